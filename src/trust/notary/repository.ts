/**
 * A GUN's trust data on a notary-server, read and written as a publisher (what `notary` and
 * `docker trust` do, with every key in a device).
 *
 * Reading verifies everything before anything is used: the root against the one this machine
 * trusts (the first one seen, then each rotation signed by the one before), then timestamp, snapshot
 * (by the timestamp's hashes), root and targets (by the snapshot's), and every delegated role
 * published, each by its keys and threshold and unexpired.
 *
 * A change is made on copies of the roles it touches; each gets its next version and a fresh expiry
 * and is signed by the devices given; the thresholds are checked; the snapshot is made when the
 * publisher holds its key (else the server makes it, and the timestamp always); and only then are
 * the roles sent, in one upload the server takes whole or refuses whole. A wrong PIN, a touch that
 * never comes or an unmet threshold stops the change before anything reaches the server.
 *
 * Why not the TUF 1.0 writer (../repository): its truth is a directory (staged files, version-named
 * published files, a lock); here it is the server, which signs the timestamp and takes a publication
 * whole, and the metadata differs in nearly every field the writer reads. What is shared is the
 * model underneath: canonical JSON, the envelope, the device signer and the dialect seam.
 */
import { keywardError } from '../../errors.js';
import type { Keystore } from '../../keystore/keystore.js';
import type { KeyUri } from '../../keystore/uri/origin.js';
import { TrustError } from '../errors.js';
import { Metadata, type RoleKeys, type TopLevelRole } from '../metadata.js';
import { deviceSigner, signMetadata, type Signer, type TufSigner } from '../signer.js';
import { bareKey, certificateOf, NOTARY, notaryKeyFromSpki, notaryKeyId, signerAs, x509Key, type NotaryKey } from './dialect.js';
import { checkGun } from './gun.js';
import {
  checkFileMeta,
  delegationCovers,
  fileMetaOf,
  formatNotaryExpiry,
  isDelegatedRole,
  notaryExpiryTime,
  parseNotary,
  type FileMeta,
  type NotaryDelegation,
  type NotaryRootSigned,
  type NotarySigned,
  type NotarySnapshotSigned,
  type NotaryTargetsSigned,
  type NotaryTimestampSigned,
} from './metadata.js';
import { rootCertificateProblem } from './root-rules.js';
import { MAX_METADATA_BYTES, type NotaryServer } from './server.js';
import type { TrustStore } from './trust-store.js';

/** How long each role's metadata is valid when signed, as notary 0.7 gives it (the server's timestamp: 14 days). */
export const NOTARY_EXPIRY_DAYS = { root: 3650, targets: 1095, snapshot: 1095 } as const;

const MAX_ROOT_BYTES = 1024 * 1024;
const MAX_TIMESTAMP_BYTES = 64 * 1024;

export interface NotaryContext {
  gun: string;
  server: NotaryServer;
  store: TrustStore;
  /** Opens the keys recorded for the GUN when a change needs them and none was given. */
  keystore?: Keystore;
  now?: () => Date;
}

export interface PublishReport {
  published: Array<{ role: string; version: number }>;
  /** Who signed the snapshot: the publisher (Keyward), or the server. */
  snapshot: 'publisher' | 'server';
  signed: Array<{ role: string; keyid: string; uri: string }>;
}

export interface TargetEntry {
  role: string;
  name: string;
  /** Hex SHA-256 (a manifest digest), when the entry has one. */
  sha256?: string;
  length: number;
}

interface Published<T extends NotarySigned> {
  metadata: Metadata<T>;
  bytes: Buffer;
}

type Targets = Metadata<NotaryTargetsSigned>;

/** The signed roles, verified, as the server serves them. */
interface Verified {
  root: Published<NotaryRootSigned>;
  timestamp: Published<NotaryTimestampSigned>;
  snapshot: Published<NotarySnapshotSigned>;
  /** targets and every delegated role published, delegator before delegate. */
  targets: Map<string, Published<NotaryTargetsSigned>>;
  /** Roles a delegation names that are not published yet. */
  unpublished: string[];
  /** The root was trusted now, on first use. */
  firstUse: boolean;
}

const days = (n: number) => n * 86_400_000;

function expired(role: string, expires: string): TrustError {
  return new TrustError(role, 'expired', `expired at ${expires}`, {
    hint:
      role === 'timestamp'
        ? 'notary-server re-signs an expired timestamp when asked: this server did not, so it is broken or not the server it claims to be'
        : `the ${role} role must be signed again by its keys (keyward notary key rotate renews root; any change to a targets role renews it)`,
  });
}

/** A draft of a change: copies of the roles it touches. */
export class NotaryDraft {
  root: NotaryRootSigned | undefined;
  readonly targets = new Map<string, NotaryTargetsSigned>();
  /** Roles whose snapshot entry goes (a removed delegation). */
  readonly dropped = new Set<string>();

  constructor(readonly repository: NotaryRepository) {}

  /** The root, to change. */
  editRoot(): NotaryRootSigned {
    this.root ??= structuredClone(this.repository.root.signed);
    return this.root;
  }

  /** A targets role, to change: its published content, or empty when it was never published. */
  editTargets(role: string): NotaryTargetsSigned {
    let signed = this.targets.get(role);
    if (!signed) {
      const published = this.repository.published(role);
      signed = published ? structuredClone(published.signed) : { _type: 'Targets', version: 0, expires: '', targets: {}, delegations: { keys: {}, roles: [] } };
      this.targets.set(role, signed);
    }
    return signed;
  }

  /** A role as it will be: drafted, or as published. */
  targetsOf(role: string): NotaryTargetsSigned | undefined {
    return this.targets.get(role) ?? this.repository.published(role)?.signed;
  }
}

export class NotaryRepository {
  readonly gun: string;
  readonly #context: NotaryContext;
  #verified: Verified;

  private constructor(context: NotaryContext, verified: Verified) {
    this.gun = context.gun;
    this.#context = context;
    this.#verified = verified;
  }

  /** The GUN's trust data from the server, verified (the root trusted on first use, and remembered). */
  static async open(context: NotaryContext): Promise<NotaryRepository> {
    checkGun(context.gun);
    return new NotaryRepository(context, await verifyAndRemember(context));
  }

  /**
   * A new GUN: a certificate for the root key (CN = the GUN, signed in the device), root v1 naming
   * it, the targets key, the snapshot key (the publisher's when given, else the server's) and the
   * server's timestamp key, an empty targets v1, and the snapshot when the publisher holds it; all
   * signed, then published in one upload.
   */
  static async init(
    context: NotaryContext,
    keys: { root: import('../../keystore/backend.js').KeyHandle; targets: Signer; snapshot?: Signer },
  ): Promise<PublishReport> {
    const { gun, server } = context;
    checkGun(gun);
    if (await server.metadata(gun, 'root', MAX_ROOT_BYTES))
      throw keywardError('NOTARY_EXISTS', `${server.url.origin} already holds trust data for ${gun}`, {
        hint: `keyward notary inspect ${gun} shows it; a GUN is initialised once`,
      });
    const now = (context.now ?? (() => new Date()))();
    const { makeRootCertificate } = await import('./root-certificate.js'); // x509, only where a root is made
    const certificate = await makeRootCertificate(keys.root, gun, { notBefore: new Date(now.getTime() - 60_000) });
    const rootSigner = signerAs(await deviceSigner(keys.root), x509Key(certificate))!;
    const targetsKey = notaryKeyFromSpki(keys.targets.publicKey);
    const snapshotKey = keys.snapshot ? notaryKeyFromSpki(keys.snapshot.publicKey) : await server.key(gun, 'snapshot');
    const timestampKey = await server.key(gun, 'timestamp');
    const roleOf = (key: NotaryKey): RoleKeys => ({ keyids: [notaryKeyId(key)], threshold: 1 });
    const root: NotaryRootSigned = {
      _type: 'Root',
      consistent_snapshot: false,
      expires: formatNotaryExpiry(now.getTime() + days(NOTARY_EXPIRY_DAYS.root)),
      keys: Object.fromEntries([rootSigner.key, targetsKey, snapshotKey, timestampKey].map((k) => [notaryKeyId(k), k])),
      roles: {
        root: { keyids: [rootSigner.keyid], threshold: 1 },
        targets: roleOf(targetsKey),
        snapshot: roleOf(snapshotKey),
        timestamp: roleOf(timestampKey),
      },
      version: 1,
    };
    const empty: NotaryTargetsSigned = {
      _type: 'Targets',
      delegations: { keys: {}, roles: [] },
      expires: formatNotaryExpiry(now.getTime() + days(NOTARY_EXPIRY_DAYS.targets)),
      targets: {},
      version: 1,
    };
    const signed: PublishReport['signed'] = [];
    const files: Array<[string, Buffer]> = [];
    const sign = async (role: string, metadata: Metadata<NotarySigned>, signer: TufSigner<NotaryKey>) => {
      await signMetadata(metadata, signer);
      signed.push({ role, keyid: signer.keyid, uri: signer.uri });
      files.push([role, metadata.toBytes()]);
    };
    await sign('root', new Metadata('root', { signed: root, signatures: [] }), rootSigner);
    await sign('targets', new Metadata('targets', { signed: empty, signatures: [] }), signerAs(keys.targets, targetsKey)!);
    if (keys.snapshot) {
      const snapshot: NotarySnapshotSigned = {
        _type: 'Snapshot',
        expires: formatNotaryExpiry(now.getTime() + days(NOTARY_EXPIRY_DAYS.snapshot)),
        meta: { root: fileMetaOf(files[0]![1]), targets: fileMetaOf(files[1]![1]) },
        version: 1,
      };
      await sign('snapshot', new Metadata('snapshot', { signed: snapshot, signatures: [] }), signerAs(keys.snapshot, snapshotKey)!);
    }
    await server.publish(gun, files);
    context.store.trust(gun, files[0]![1]);
    context.store.rememberKeys(gun, signed);
    return { published: files.map(([role]) => ({ role, version: 1 })), snapshot: keys.snapshot ? 'publisher' : 'server', signed };
  }

  // ── reading ──────────────────────────────────────────────────────────────────────────────────

  get root(): Metadata<NotaryRootSigned> {
    return this.#verified.root.metadata;
  }

  get timestamp(): Metadata<NotaryTimestampSigned> {
    return this.#verified.timestamp.metadata;
  }

  get snapshot(): Metadata<NotarySnapshotSigned> {
    return this.#verified.snapshot.metadata;
  }

  /** Whether the root was trusted on first use by this open. */
  get firstUse(): boolean {
    return this.#verified.firstUse;
  }

  /** A published targets role, verified. */
  published(role: string): Targets | undefined {
    return this.#verified.targets.get(role)?.metadata;
  }

  /** Every targets role a delegation reaches, published or not, delegator first. */
  roles(): string[] {
    return [...this.#verified.targets.keys(), ...this.#verified.unpublished];
  }

  /** Every delegation from every published role. */
  delegations(): Array<NotaryDelegation & { keys: Record<string, NotaryKey>; delegator: string; published: boolean }> {
    return [...this.#verified.targets].flatMap(([delegator, { metadata }]) =>
      metadata.signed.delegations.roles.map((role) => ({
        ...role,
        keys: metadata.signed.delegations.keys,
        delegator,
        published: this.#verified.targets.has(role.name),
      })),
    );
  }

  /** Every target of every role. */
  targets(): TargetEntry[] {
    return [...this.#verified.targets].flatMap(([role, { metadata }]) =>
      Object.entries(metadata.signed.targets).map(([name, meta]) => entryOf(role, name, meta)),
    );
  }

  /**
   * What `docker pull` would take for `tag`: the first role in targets/releases, then targets, then
   * the other delegations (as notary's client searches), that holds it.
   */
  lookup(tag: string): TargetEntry | undefined {
    const order = ['targets/releases', 'targets', ...this.roles().filter((r) => r !== 'targets/releases' && r !== 'targets')];
    for (const role of order) {
      const meta = this.published(role)?.signed.targets[tag];
      if (meta) return entryOf(role, tag, meta);
    }
    return undefined;
  }

  /** The key URIs recorded for this GUN on this machine. */
  recordedKeys(): Record<string, KeyUri> {
    return this.#context.store.keyUris(this.gun);
  }

  /** The keys and threshold of a role: from root for a top-level role, from its delegator for a delegated one. */
  keysOf(role: string, draft?: NotaryDraft): { keys: Record<string, NotaryKey>; entry: RoleKeys } {
    if (role === 'root' || role === 'targets' || role === 'snapshot' || role === 'timestamp') {
      const root = draft?.root ?? this.root.signed;
      return { keys: root.keys, entry: root.roles[role as TopLevelRole] };
    }
    const delegator = role.slice(0, role.lastIndexOf('/'));
    const parent = draft ? draft.targetsOf(delegator) : this.published(delegator)?.signed;
    const entry = parent?.delegations.roles.find((r) => r.name === role);
    if (!parent || !entry)
      throw keywardError('NOTARY_ROLE_UNKNOWN', `${this.gun} has no role "${role}"`, { hint: `keyward notary inspect ${this.gun} lists its signers` });
    return { keys: parent.delegations.keys, entry };
  }

  // ── writing ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Opens the devices recorded for the keys of `roles` (for those no given signer holds), so that
   * a change finds them; missing ones are left for the threshold check to name.
   */
  async recordedSigners(roles: string[], given: Signer[], draft?: NotaryDraft): Promise<Signer[]> {
    const keystore = this.#context.keystore;
    if (!keystore) return [];
    const uris = this.recordedKeys();
    const out: Signer[] = [];
    const held = (key: NotaryKey) => [...given, ...out].some((s) => signerAs(s, key));
    // A root change is signed by the trusted root's keys as well as its own.
    const needs = roles.flatMap((role) => (role === 'root' && draft?.root ? [this.keysOf('root'), this.keysOf('root', draft)] : [this.keysOf(role, draft)]));
    for (const { keys, entry } of needs) {
      let have = entry.keyids.filter((id) => keys[id] && held(keys[id]!)).length;
      for (const keyid of entry.keyids) {
        if (have >= entry.threshold) break;
        const key = keys[keyid];
        const uri = uris[keyid] ?? (key && uris[notaryKeyId(bareKey(key))]);
        if (!key || !uri || held(key)) continue;
        out.push(await deviceSigner(await keystore.open(uri)));
        have++;
      }
    }
    return out;
  }

  /**
   * Makes a change: `edit` fills a draft; the roles drafted (and, for a root change, the roles its
   * new keys must re-sign) get their next version and are signed by `signers`; thresholds are
   * checked; the snapshot is signed here when a signer holds its key; then one upload.
   */
  async change(edit: (draft: NotaryDraft) => void | Promise<void>, signers: Signer[], options: { resign?: string[] } = {}): Promise<PublishReport> {
    const draft = new NotaryDraft(this);
    await edit(draft);
    for (const role of options.resign ?? []) draft.editTargets(role);
    const now = this.#now().getTime();
    const roles: Array<[string, Metadata<NotarySigned>]> = [];
    if (draft.root) {
      draft.root.version = this.root.signed.version + 1;
      draft.root.expires = formatNotaryExpiry(now + days(NOTARY_EXPIRY_DAYS.root));
      roles.push(['root', new Metadata('root', { signed: draft.root, signatures: [] })]);
    }
    for (const [role, signed] of draft.targets) {
      signed.version = (this.published(role)?.signed.version ?? 0) + 1;
      signed.expires = formatNotaryExpiry(now + days(NOTARY_EXPIRY_DAYS.targets));
      roles.push([role, new Metadata(role, { signed, signatures: [] })]);
    }
    const all = [...signers, ...(await this.recordedSigners([...roles.map(([role]) => role), 'snapshot'], signers, draft))];
    const report: PublishReport = { published: [], snapshot: 'server', signed: [] };
    const files: Array<[string, Buffer]> = [];
    for (const [role, metadata] of roles) {
      // A root rotation is signed by the trusted root's keys too (the server and clients check both).
      const needs = role === 'root' ? [this.keysOf('root'), this.keysOf('root', draft)] : [this.keysOf(role, draft)];
      for (const { keys, entry } of needs) await this.#sign(role, metadata, keys, entry, all, report);
      for (const { keys, entry } of needs) checkThreshold(this.gun, role, metadata, keys, entry, all);
      files.push([role, metadata.toBytes()]);
      report.published.push({ role, version: metadata.signed.version });
    }
    const snapshotSigner = this.#snapshotSigner(draft, all);
    if (snapshotSigner) {
      const previous = this.snapshot.signed;
      const meta = { ...previous.meta };
      for (const role of draft.dropped) delete meta[role];
      for (const [role, bytes] of files) meta[role] = fileMetaOf(bytes);
      const snapshot = new Metadata<NotarySnapshotSigned>('snapshot', {
        signed: { _type: 'Snapshot', expires: formatNotaryExpiry(now + days(NOTARY_EXPIRY_DAYS.snapshot)), meta, version: previous.version + 1 },
        signatures: [],
      });
      await signMetadata(snapshot, snapshotSigner);
      report.signed.push({ role: 'snapshot', keyid: snapshotSigner.keyid, uri: snapshotSigner.uri });
      files.push(['snapshot', snapshot.toBytes()]);
      report.published.push({ role: 'snapshot', version: snapshot.signed.version });
      report.snapshot = 'publisher';
    }
    const idle = signers.find((s) => !report.signed.some((d) => d.uri === s.uri));
    if (idle)
      throw keywardError(
        'NOTARY_KEY_NOT_IN_ROLE',
        `${idle.uri} is not a key of any role this change signs (${roles.map(([r]) => r).join(', ')}); nothing was published`,
        {
          hint: `keyward notary inspect ${this.gun} shows the keys of each role`,
        },
      );
    await this.#context.server.publish(this.gun, files);
    if (draft.root) this.#context.store.trust(this.gun, files[0]![1]);
    this.#context.store.rememberKeys(this.gun, report.signed);
    this.#verified = await verifyAndRemember(this.#context);
    return report;
  }

  async #sign(
    role: string,
    metadata: Metadata<NotarySigned>,
    keys: Record<string, NotaryKey>,
    entry: RoleKeys,
    signers: Signer[],
    report: PublishReport,
  ): Promise<void> {
    for (const keyid of entry.keyids) {
      const key = keys[keyid];
      if (!key || metadata.signatures.some((s) => s.keyid === keyid)) continue;
      for (const signer of signers) {
        const holder = signerAs(signer, key);
        if (!holder) continue;
        await signMetadata(metadata, holder);
        report.signed.push({ role, keyid, uri: signer.uri });
        break;
      }
    }
  }

  /** The publisher's snapshot signer, when a signer at hand holds a key the (new) root gives snapshot. */
  #snapshotSigner(draft: NotaryDraft, signers: Signer[]): TufSigner<NotaryKey> | undefined {
    const { keys, entry } = this.keysOf('snapshot', draft);
    for (const keyid of entry.keyids) {
      for (const signer of signers) {
        const holder = keys[keyid] && signerAs(signer, keys[keyid]!);
        if (holder) return holder;
      }
    }
    return undefined;
  }

  #now(): Date {
    return (this.#context.now ?? (() => new Date()))();
  }

  // ── the changes ──────────────────────────────────────────────────────────────────────────────

  /**
   * The role a signer signs a tag into: `role` when given; else the first delegation of targets
   * (targets/releases first) that one of the signers holds a key of and whose paths cover the tag,
   * else targets.
   */
  roleFor(tag: string, signers: Signer[], role?: string): string {
    if (role !== undefined) {
      if (role !== 'targets' && !isDelegatedRole(role))
        throw keywardError('NOTARY_ROLE_UNKNOWN', `"${role}" is not a targets role`, { hint: 'targets, or targets/<name>' });
      return role;
    }
    const delegations = (this.published('targets')?.signed.delegations.roles ?? [])
      .slice()
      .sort((a, b) => Number(b.name === 'targets/releases') - Number(a.name === 'targets/releases'));
    const keys = this.published('targets')?.signed.delegations.keys ?? {};
    const held = (entry: RoleKeys, all: Record<string, NotaryKey>) => entry.keyids.some((id) => all[id] && signers.some((s) => signerAs(s, all[id]!)));
    const delegation = delegations.find((d) => held(d, keys) && delegationCovers(d, tag));
    if (delegation) return delegation.name;
    return 'targets';
  }

  /** Adds or replaces `tag` in a targets role (see roleFor), signed by `signers` (the recorded targets key when none is given). */
  async sign(tag: string, target: FileMeta, signers: Signer[], role?: string): Promise<PublishReport & { role: string }> {
    const chosen = this.roleFor(tag, signers, role);
    if (chosen !== 'targets') {
      const { entry } = this.keysOf(chosen);
      if (!delegationCovers(entry as NotaryDelegation, tag))
        throw keywardError(
          'NOTARY_PATH_NOT_DELEGATED',
          `${chosen} may not sign "${tag}": its paths are ${JSON.stringify((entry as NotaryDelegation).paths ?? [])}`,
          {
            hint: 'sign into another role (--role), or add the path to the delegation',
          },
        );
    }
    const report = await this.change((draft) => void (draft.editTargets(chosen).targets[tag] = target), signers);
    return { ...report, role: chosen };
  }

  /** Removes `tag` from every role that holds it; all of them or none. */
  async revoke(tag: string, signers: Signer[]): Promise<PublishReport & { roles: string[] }> {
    const roles = [...this.#verified.targets].filter(([, { metadata }]) => Object.hasOwn(metadata.signed.targets, tag)).map(([role]) => role);
    if (!roles.length)
      throw keywardError('NOTARY_TAG_UNKNOWN', `${this.gun} has no signed tag "${tag}"`, { hint: `keyward notary inspect ${this.gun} lists the signed tags` });
    const report = await this.change((draft) => {
      for (const role of roles) delete draft.editTargets(role).targets[tag];
    }, signers);
    return { ...report, roles };
  }

  /**
   * Adds a signer: the delegation `role` (targets/<name>) with `keys` and `threshold`, or, when it
   * exists, these keys added to it (and the threshold set). Paths: prefixes of the tags it may sign
   * ("" is all).
   */
  async addSigner(role: string, keys: NotaryKey[], threshold: number, signers: Signer[], paths: string[] = ['']): Promise<PublishReport> {
    if (!isDelegatedRole(role) || role.split('/').length !== 2)
      throw keywardError('NOTARY_ROLE_UNKNOWN', `"${role}" is not a signer name`, {
        hint: 'letters, digits, "_", "." and "-", e.g. releases (the role targets/releases)',
      });
    return this.change((draft) => {
      const delegations = draft.editTargets('targets').delegations;
      let entry = delegations.roles.find((r) => r.name === role);
      if (!entry) {
        entry = { name: role, keyids: [], threshold, paths };
        delegations.roles.push(entry);
      }
      for (const key of keys) {
        const keyid = notaryKeyId(key);
        delegations.keys[keyid] = key;
        if (!entry.keyids.includes(keyid)) entry.keyids.push(keyid);
      }
      entry.threshold = threshold;
      if (threshold < 1 || threshold > entry.keyids.length)
        throw keywardError(
          'NOTARY_THRESHOLD_INVALID',
          `${role}: threshold ${threshold} with ${entry.keyids.length} key${entry.keyids.length === 1 ? '' : 's'}`,
          {
            hint: 'a threshold is at least 1 and at most the number of keys (0 would accept tags signed by no one)',
          },
        );
    }, signers);
  }

  /** Removes a signer (a delegation of targets) and the keys no other delegation uses. */
  async removeSigner(role: string, signers: Signer[]): Promise<PublishReport> {
    this.keysOf(role); // refuses an unknown role
    return this.change((draft) => {
      const delegations = draft.editTargets('targets').delegations;
      delegations.roles = delegations.roles.filter((r) => r.name !== role);
      const used = new Set(delegations.roles.flatMap((r) => r.keyids));
      for (const keyid of Object.keys(delegations.keys)) if (!used.has(keyid)) delete delegations.keys[keyid];
      for (const name of this.roles()) if (name === role || name.startsWith(`${role}/`)) draft.dropped.add(name);
    }, signers);
  }

  /**
   * Rotates a top-level role's key: root and targets to a new device key (`next`; root gets a new
   * certificate), snapshot to a device key or to the server, timestamp to a new server key. The new
   * root is signed by the old root key and the new one, and a new targets key re-signs targets.
   */
  async rotateKey(
    role: TopLevelRole,
    next: { handle?: import('../../keystore/backend.js').KeyHandle } | 'server',
    signers: Signer[],
  ): Promise<PublishReport & { keyid: string }> {
    const server = this.#context.server;
    let key: NotaryKey;
    const extra: Signer[] = [];
    if (next === 'server') {
      if (role !== 'snapshot' && role !== 'timestamp')
        throw keywardError('NOTARY_ROTATION', `the server cannot hold the ${role} key`, { hint: 'give the new key: --key URI (a key in a device)' });
      key = await server.rotateKey(this.gun, role);
    } else {
      if (role === 'timestamp')
        throw keywardError('NOTARY_ROTATION', "the timestamp key is always the server's", {
          hint: `keyward notary key rotate ${this.gun} timestamp (without --key)`,
        });
      if (!next.handle) throw keywardError('NOTARY_ROTATION', `rotating ${role} needs the new key`, { hint: '--key URI (a key in a device)' });
      const signer = await deviceSigner(next.handle);
      extra.push(signer);
      if (role === 'root') {
        const { makeRootCertificate } = await import('./root-certificate.js');
        key = x509Key(await makeRootCertificate(next.handle, this.gun, { notBefore: new Date(this.#now().getTime() - 60_000) }));
      } else key = notaryKeyFromSpki(signer.publicKey);
    }
    const keyid = notaryKeyId(key);
    const report = await this.change(
      (draft) => {
        const root = draft.editRoot();
        root.keys[keyid] = key;
        root.roles[role] = { keyids: [keyid], threshold: 1 };
        const used = new Set(Object.values(root.roles).flatMap((r) => r.keyids));
        for (const id of Object.keys(root.keys)) if (!used.has(id)) delete root.keys[id];
      },
      [...signers, ...extra],
      { resign: role === 'targets' ? ['targets'] : [] },
    );
    return { ...report, keyid };
  }
}

function entryOf(role: string, name: string, meta: FileMeta): TargetEntry {
  const sha256 = meta.hashes.sha256 ? Buffer.from(meta.hashes.sha256, 'base64').toString('hex') : undefined;
  return { role, name, ...(sha256 ? { sha256 } : {}), length: meta.length };
}

/** Refuses a role whose signatures fall short of a threshold, naming the keys that could meet it. */
function checkThreshold(
  gun: string,
  role: string,
  metadata: Metadata<NotarySigned>,
  keys: Record<string, NotaryKey>,
  entry: RoleKeys,
  signers: Signer[],
): void {
  const verified = metadata.verifiedKeyIds(keys, entry, NOTARY.verify);
  if (verified.size >= entry.threshold) return;
  const missing = entry.keyids.filter((id) => !verified.has(id));
  throw keywardError(
    'NOTARY_THRESHOLD_UNMET',
    `${role} needs ${entry.threshold} signature${entry.threshold === 1 ? '' : 's'} and has ${verified.size}: no key at hand for ${missing
      .map((id) => bareKeyId(keys[id]) ?? id)
      .map((id) => id.slice(0, 12))
      .join(', ')}; nothing was published`,
    {
      hint: signers.length
        ? `give the missing keys (--key URI, once per key) or sign where they are`
        : `give the key (--key URI), or run this where Keyward recorded it (keyward notary inspect ${gun} shows the keys)`,
      details: { role, threshold: entry.threshold, signed: [...verified], missing },
    },
  );
}

/** The id `notary key list` shows for a key (an x509 key's bare key id). */
export function bareKeyId(key: NotaryKey | undefined): string | undefined {
  return key && notaryKeyId(bareKey(key));
}

// ── verification ─────────────────────────────────────────────────────────────────────────────

function parseRole<T extends NotarySigned>(bytes: Buffer, role: string): Metadata<T> {
  return parseNotary<T>(bytes, role);
}

/** The root keys notary would accept for `gun`: x509 keys whose certificate is a valid root certificate. */
function checkRootKeys(root: Metadata<NotaryRootSigned>, gun: string, now: Date): void {
  const problems: string[] = [];
  let valid = 0;
  for (const keyid of root.signed.roles.root.keyids) {
    const key = root.signed.keys[keyid];
    const certificate = key && certificateOf(key);
    const problem = !key ? 'is not in keys' : !certificate ? `is a ${key.keytype} key, not a certificate` : rootCertificateProblem(certificate, gun, now);
    if (problem) problems.push(`root key ${keyid.slice(0, 12)}: ${problem}`);
    else valid++;
  }
  if (valid < root.signed.roles.root.threshold)
    throw keywardError(
      'NOTARY_ROOT_CERTIFICATE',
      `the root of ${gun} (v${root.signed.version}) has ${valid} valid root certificate${valid === 1 ? '' : 's'}, ${root.signed.roles.root.threshold} required: ${problems.join('; ')}`,
      {
        hint: 'Notary clients refuse it too: the root must be rotated to a valid certificate (keyward notary key rotate GUN root --key URI)',
      },
    );
}

function checkUnexpired(metadata: Metadata<NotarySigned>, now: Date): void {
  if (notaryExpiryTime(metadata.signed.expires) <= now.getTime()) throw expired(metadata.role, metadata.signed.expires);
}

/** The trusted root: the pinned one brought up to the server's through each rotation, or the server's on first use. */
async function trustedRoot(context: NotaryContext, now: Date): Promise<{ root: Published<NotaryRootSigned>; firstUse: boolean }> {
  const { gun, server, store } = context;
  const bytes = await server.metadata(gun, 'root', MAX_ROOT_BYTES);
  if (!bytes)
    throw keywardError('NOTARY_NOT_FOUND', `${server.url.origin} has no trust data for ${gun}`, {
      hint: `check the GUN and --server; a new GUN is made with keyward notary init ${gun}`,
    });
  const served = parseRole<NotaryRootSigned>(bytes, 'root');
  const pinned = store.trustedRoot(gun);
  if (!pinned) {
    // Trust on first use, as notary does: the root must at least vouch for itself.
    served.verifyThreshold(served.signed.keys, served.signed.roles.root, 'its own root keys', NOTARY.verify);
    checkRootKeys(served, gun, now);
    return { root: { metadata: served, bytes }, firstUse: true };
  }
  let trusted = parseRole<NotaryRootSigned>(pinned, 'root');
  if (served.signed.version < trusted.signed.version)
    throw new TrustError('root', 'rollback', `the server serves root v${served.signed.version}; this machine already trusts v${trusted.signed.version}`);
  if (served.signed.version === trusted.signed.version) {
    if (!served.canonical.equals(trusted.canonical))
      throw keywardError('NOTARY_ROOT_CHANGED', `the server's root v${served.signed.version} of ${gun} is not the root this machine trusts`, {
        hint: `a hostile server, or the GUN was deleted and made anew; if you know it was, remove ${store.dir}/${encodeURIComponent(gun)}/root.json and look again`,
      });
    return { root: { metadata: served, bytes }, firstUse: false };
  }
  let current: Published<NotaryRootSigned> = { metadata: trusted, bytes: pinned };
  for (let version = trusted.signed.version + 1; version <= served.signed.version; version++) {
    const next = version === served.signed.version ? bytes : await server.metadata(gun, 'root', MAX_ROOT_BYTES, version);
    if (!next)
      throw new TrustError(
        'root',
        'not-found',
        `the server has no root v${version}, between the trusted v${trusted.signed.version} and its v${served.signed.version}`,
      );
    const metadata = parseRole<NotaryRootSigned>(next, 'root');
    if (metadata.signed.version !== version) throw new TrustError('root', 'version-mismatch', `${version}.root.json holds root v${metadata.signed.version}`);
    metadata.verifyThreshold(trusted.signed.keys, trusted.signed.roles.root, `the keys of the trusted root v${trusted.signed.version}`, NOTARY.verify);
    metadata.verifyThreshold(metadata.signed.keys, metadata.signed.roles.root, `its own root keys`, NOTARY.verify);
    checkRootKeys(metadata, gun, now);
    trusted = metadata;
    current = { metadata, bytes: next };
    store.trust(gun, next);
  }
  return { root: current, firstUse: false };
}

async function verify(context: NotaryContext): Promise<Verified> {
  const { gun, server } = context;
  const now = (context.now ?? (() => new Date()))();
  const { root, firstUse } = await trustedRoot(context, now);
  checkUnexpired(root.metadata, now);
  const rootSigned = root.metadata.signed;
  const fetchRole = async <T extends NotarySigned>(role: string, meta: FileMeta | undefined, maxBytes: number): Promise<Published<T>> => {
    const bytes = await server.metadata(gun, role, meta?.length ?? maxBytes);
    if (!bytes)
      throw new TrustError(role, 'not-found', `${server.url.origin} has no ${role} for ${gun}`, {
        hint: 'the server lost part of the trust data, or is not a notary-server',
      });
    if (meta) checkFileMeta(bytes, meta, role, `${role}.json`);
    return { metadata: parseRole<T>(bytes, role), bytes };
  };
  // Versions this machine verified before: a server that serves older ones replays old trust data.
  const seen = firstUse ? { timestamp: 0, snapshot: 0 } : context.store.seen(gun);
  const fresh = (metadata: Metadata<NotarySigned>, role: 'timestamp' | 'snapshot') => {
    if (metadata.signed.version < seen[role])
      throw new TrustError(role, 'rollback', `the server serves ${role} v${metadata.signed.version}; this machine verified v${seen[role]} already`);
  };
  const timestamp = await fetchRole<NotaryTimestampSigned>('timestamp', undefined, MAX_TIMESTAMP_BYTES);
  timestamp.metadata.verifyThreshold(rootSigned.keys, rootSigned.roles.timestamp, 'the timestamp keys of root', NOTARY.verify);
  checkUnexpired(timestamp.metadata, now);
  fresh(timestamp.metadata, 'timestamp');
  const snapshot = await fetchRole<NotarySnapshotSigned>('snapshot', timestamp.metadata.signed.meta.snapshot, MAX_METADATA_BYTES);
  snapshot.metadata.verifyThreshold(rootSigned.keys, rootSigned.roles.snapshot, 'the snapshot keys of root', NOTARY.verify);
  checkUnexpired(snapshot.metadata, now);
  fresh(snapshot.metadata, 'snapshot');
  const meta = snapshot.metadata.signed.meta;
  if (meta.root) checkFileMeta(root.bytes, meta.root, 'root', 'root.json');
  const targets = new Map<string, Published<NotaryTargetsSigned>>();
  const unpublished: string[] = [];
  const top = await fetchRole<NotaryTargetsSigned>('targets', meta.targets, MAX_METADATA_BYTES);
  top.metadata.verifyThreshold(rootSigned.keys, rootSigned.roles.targets, 'the targets keys of root', NOTARY.verify);
  checkUnexpired(top.metadata, now);
  targets.set('targets', top);
  // Delegator before delegate, each role verified by the delegation that names it.
  const queue = ['targets'];
  for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
    const delegations = targets.get(role)!.metadata.signed.delegations;
    for (const delegation of delegations.roles) {
      if (targets.has(delegation.name) || unpublished.includes(delegation.name)) continue;
      if (!meta[delegation.name]) {
        unpublished.push(delegation.name);
        continue;
      }
      const published = await fetchRole<NotaryTargetsSigned>(delegation.name, meta[delegation.name], MAX_METADATA_BYTES);
      published.metadata.verifyThreshold(delegations.keys, delegation, `the keys ${role} delegates to`, NOTARY.verify);
      checkUnexpired(published.metadata, now);
      targets.set(delegation.name, published);
      queue.push(delegation.name);
    }
  }
  return { root, timestamp, snapshot, targets, unpublished, firstUse };
}

/** Verifies, then remembers what was verified: the root on first use, the timestamp and snapshot versions. */
async function verifyAndRemember(context: NotaryContext): Promise<Verified> {
  const verified = await verify(context);
  if (verified.firstUse) context.store.trust(context.gun, verified.root.bytes);
  context.store.rememberSeen(context.gun, { timestamp: verified.timestamp.metadata.signed.version, snapshot: verified.snapshot.metadata.signed.version });
  return verified;
}
