/**
 * The metadata a client trusts, and the checks new metadata must pass to replace it (spec §5.2–§5.6).
 * Nothing here downloads or writes: each `update…` verifies bytes completely and only then replaces
 * what is trusted, so a refusal leaves the trusted set exactly as it was.
 */
import { delegatedRole } from '../delegations.js';
import { TrustError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import { parseRoot, rootRole, type RootSigned } from '../root.js';
import { checkLengthAndHashes, parseSnapshot, type SnapshotSigned } from '../snapshot.js';
import { parseTargets, type TargetsSigned } from '../targets.js';
import { parseTimestamp, SNAPSHOT_FILE, type TimestampSigned } from '../timestamp.js';

/** Integers as python-tuf writes them, beyond 2^53 too (bigints: metadata.ts `integer`). */
const EXACT = { exactIntegers: true } as const;

/** N+1 of a version that may be a bigint, or become one. */
export function nextVersion(version: number | bigint): number | bigint {
  if (typeof version === 'bigint') return version + 1n;
  return Number.isSafeInteger(version + 1) ? version + 1 : BigInt(version) + 1n;
}

export class TrustedSet {
  /** Spec §5.1: the fixed update start time, in ms. */
  readonly now: number;
  root: Metadata<RootSigned>;
  timestamp: Metadata<TimestampSigned> | undefined;
  snapshot: Metadata<SnapshotSigned> | undefined;
  readonly targets = new Map<string, Metadata<TargetsSigned>>();

  /** Spec §5.2: the trusted root, which must carry a threshold of its own keys' signatures. */
  constructor(rootBytes: Uint8Array, now: number) {
    this.now = now;
    const root = parseRoot(rootBytes, EXACT);
    root.verifyThreshold(root.signed.keys, rootRole(root.signed, 'root'));
    this.root = root;
  }

  /** Spec §5.3.4–§5.3.7: the next root, signed by a threshold of the trusted root's keys and of its own. */
  updateRoot(bytes: Uint8Array): Metadata<RootSigned> {
    if (this.timestamp) throw new Error('bug: root updated after timestamp');
    const next = parseRoot(bytes, EXACT);
    // §5.3.4 (1): a threshold of the keys of the root we trust…
    next.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'root'), `the keys of the trusted root v${this.root.signed.version}`);
    // …and (2) of its own keys.
    next.verifyThreshold(next.signed.keys, rootRole(next.signed, 'root'), `the keys of root v${next.signed.version}`);
    // §5.3.5: exactly N+1.
    const expected = nextVersion(this.root.signed.version);
    if (next.signed.version !== expected) {
      throw new TrustError('root', 'rollback', `expected version ${expected}, got ${next.signed.version}`);
    }
    // §5.3.6: its expiry does not matter yet. §5.3.7: it becomes the trusted root.
    this.root = next;
    return next;
  }

  /** Spec §5.3.10: the final root must not have expired. */
  checkRootFresh(): void {
    this.#checkFresh(this.root);
  }

  #checkFresh(metadata: Metadata<{ _type: string; spec_version: string; version: number; expires: string }>): void {
    if (metadata.isExpired(this.now)) {
      throw new TrustError(
        metadata.role,
        'expired',
        `expired on ${metadata.signed.expires} (version ${metadata.signed.version}, now ${new Date(this.now).toISOString()})`,
      );
    }
  }

  /**
   * A timestamp from the client's own store: verified with the current root's keys (if the keys
   * rotated it no longer verifies and is forgotten, spec §5.3.11), kept even if expired, because it
   * still says which versions must not be rolled back to.
   */
  loadLocalTimestamp(bytes: Uint8Array): void {
    const timestamp = parseTimestamp(bytes, EXACT);
    timestamp.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'timestamp'));
    this.timestamp = timestamp;
  }

  /**
   * Spec §5.4.2–§5.4.4: a new timestamp. Returns false when it has the trusted version (§5.4.3.1: normal,
   * nothing changed).
   */
  updateTimestamp(bytes: Uint8Array): boolean {
    if (this.snapshot) throw new Error('bug: timestamp updated after snapshot');
    this.checkRootFresh();
    const next = parseTimestamp(bytes, EXACT);
    // §5.4.2
    next.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'timestamp'));
    const trusted = this.timestamp;
    if (trusted) {
      // §5.4.3.1
      if (next.signed.version < trusted.signed.version) {
        throw new TrustError('timestamp', 'rollback', `version ${next.signed.version} is older than the trusted version ${trusted.signed.version}`);
      }
      if (next.signed.version === trusted.signed.version) return false;
      // §5.4.3.2
      const before = trusted.signed.meta[SNAPSHOT_FILE].version;
      const after = next.signed.meta[SNAPSHOT_FILE].version;
      if (after < before) throw new TrustError('timestamp', 'rollback', `it names snapshot version ${after}, older than the trusted ${before}`);
    }
    // §5.4.4
    this.#checkFresh(next);
    this.timestamp = next;
    return true;
  }

  #requireTimestamp(): Metadata<TimestampSigned> {
    if (!this.timestamp) throw new Error('bug: snapshot before timestamp');
    // A stale (frozen) timestamp: the cached one expired and the repository has no newer one.
    this.#checkFresh(this.timestamp);
    return this.timestamp;
  }

  /** A snapshot from the client's store: signature checked (no hashes: it is ours), kept for §5.5.5. */
  loadLocalSnapshot(bytes: Uint8Array): void {
    this.#requireTimestamp();
    const snapshot = parseSnapshot(bytes, EXACT);
    snapshot.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'snapshot'));
    this.snapshot = snapshot;
  }

  /** Spec §5.5.2–§5.5.6: a new snapshot. */
  updateSnapshot(bytes: Uint8Array): void {
    if (this.targets.size) throw new Error('bug: snapshot updated after targets');
    const timestamp = this.#requireTimestamp();
    const expected = timestamp.signed.meta[SNAPSHOT_FILE];
    // §5.5.2
    checkLengthAndHashes(bytes, expected, 'snapshot', 'snapshot.json');
    const next = parseSnapshot(bytes, EXACT);
    // §5.5.3
    next.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'snapshot'));
    // §5.5.4
    if (next.signed.version !== expected.version) {
      throw new TrustError('snapshot', 'version-mismatch', `version ${next.signed.version}, but the timestamp names version ${expected.version}`);
    }
    // §5.5.5
    const trusted = this.snapshot;
    if (trusted) {
      for (const path in trusted.signed.meta) {
        const now = next.signed.meta[path];
        if (!now) throw new TrustError('snapshot', 'rollback', `${path} was listed and is no longer`);
        if (now.version < trusted.signed.meta[path]!.version) {
          throw new TrustError('snapshot', 'rollback', `${path} version ${now.version} is older than the trusted ${trusted.signed.meta[path]!.version}`);
        }
      }
    }
    // §5.5.6
    this.#checkFresh(next);
    this.snapshot = next;
  }

  /** Whether the trusted snapshot is the one the timestamp names and still fresh (§5.5.4, §5.5.6). */
  snapshotIsCurrent(): boolean {
    return (
      this.snapshot !== undefined &&
      this.timestamp !== undefined &&
      this.snapshot.signed.version === this.timestamp.signed.meta[SNAPSHOT_FILE].version &&
      !this.snapshot.isExpired(this.now)
    );
  }

  /**
   * Spec §5.6.2–§5.6.5: targets metadata of `role` (top-level "targets" or a delegated role), checked
   * against the snapshot and signed by the keys its delegator assigns.
   */
  updateTargets(bytes: Uint8Array, role: string, delegator: string): Metadata<TargetsSigned> {
    const snapshot = this.snapshot;
    if (!snapshot || !this.snapshotIsCurrent()) {
      if (snapshot) this.#checkFresh(snapshot);
      throw new TrustError('snapshot', 'version-mismatch', 'the trusted snapshot is not the one the timestamp names');
    }
    const meta = snapshot.signed.meta[`${role}.json`];
    if (!meta) throw new TrustError(role, 'not-found', `the snapshot does not list ${role}.json`);
    // §5.6.2
    checkLengthAndHashes(bytes, meta, role, `${role}.json`);
    const next = parseTargets(bytes, role, EXACT);
    // §5.6.3
    if (delegator === 'root') {
      next.verifyThreshold(this.root.signed.keys, rootRole(this.root.signed, 'targets'));
    } else {
      const parent = this.targets.get(delegator);
      const delegations = parent?.signed.delegations;
      const delegation = delegations && delegatedRole(delegations, role);
      if (!parent || !delegation) throw new Error(`bug: ${role} loaded before its delegator ${delegator}`);
      next.verifyThreshold(delegations.keys, delegation, `the keys ${delegator} delegates it to`);
    }
    // §5.6.4
    if (next.signed.version !== meta.version) {
      throw new TrustError(role, 'version-mismatch', `version ${next.signed.version}, but the snapshot names version ${meta.version}`);
    }
    // §5.6.5
    this.#checkFresh(next);
    this.targets.set(role, next);
    return next;
  }
}
