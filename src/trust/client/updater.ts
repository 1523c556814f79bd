/**
 * The TUF 1.0 client workflow (spec §5 "Detailed client workflow"), step by step: refresh the top-level
 * metadata, search the delegations for a target, download it and check it. Metadata the client
 * trusts lives in one directory under unversioned names (root.json, timestamp.json, …), replaced
 * atomically and only after it passed every check.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../atomic-file.js';
import { keywardError } from '../../errors.js';
import { TrustError } from '../errors.js';
import { rolesFor } from '../delegations.js';
import { parseRoot, sameRoleKeys } from '../root.js';
import { checkLengthAndHashes } from '../snapshot.js';
import type { TargetFile } from '../targets.js';
import { SNAPSHOT_FILE } from '../timestamp.js';
import { HttpFetcher, type Fetcher } from './fetcher.js';
import { nextVersion, TrustedSet } from './trusted-set.js';
import { metadataFile, quote } from '../file-names.js';

/** Download limits where the signed metadata gives no length (spec §5.3.3 W, §5.4.1 X, §5.5.1 Y, §5.6.1 Z). */
export interface Limits {
  rootBytes: number;
  timestampBytes: number;
  snapshotBytes: number;
  targetsBytes: number;
  /** Spec §5.3.3 Y: root versions fetched in one refresh. */
  rootRotations: number;
  /** Spec §5.6.7.1: roles visited in one target search. */
  delegatedRoles: number;
}

export const DEFAULT_LIMITS: Limits = {
  rootBytes: 512 * 1024,
  timestampBytes: 16 * 1024,
  snapshotBytes: 4 * 1024 * 1024,
  targetsBytes: 64 * 1024 * 1024,
  rootRotations: 256,
  delegatedRoles: 32,
};

export interface UpdaterOptions {
  metadataDir: string;
  /** Base URL of the repository's metadata (…/metadata). */
  metadataUrl: string;
  /** Base URL of the targets (…/targets), for downloads. */
  targetBaseUrl?: string;
  fetcher?: Fetcher;
  /** The moment expiry is judged at; now when absent. */
  time?: Date;
  limits?: Partial<Limits>;
}

export interface FoundTarget {
  path: string;
  /** The role whose metadata describes it. */
  role: string;
  info: TargetFile;
}

export interface RefreshReport {
  root: number;
  timestamp: number;
  snapshot: number;
  targets: number;
  consistentSnapshot: boolean;
}

/** Starts a client: its metadata directory with the root it was given out of band (spec §5.2). */
export function initClient(metadataDir: string, rootBytes: Uint8Array): void {
  parseRoot(rootBytes, { exactIntegers: true }); // refuses a file that is not a root, before anything is written
  // A client that already trusts a root moves on only by verified rotations (§5.3): replacing its
  // root here would be a rollback of trust that nobody signed.
  const trusted = join(metadataDir, 'root.json');
  if (existsSync(trusted) && !readFileSync(trusted).equals(rootBytes)) {
    throw keywardError(
      'TUF_CLIENT_INITIALISED',
      `${metadataDir} already trusts another root; a new one comes only through rotations the old root signs (refresh)`,
      {
        hint: `to start over with another root on purpose, remove ${metadataDir} first`,
      },
    );
  }
  mkdirSync(metadataDir, { recursive: true });
  writeFileAtomic(trusted, rootBytes);
}

export class Updater {
  readonly #options: UpdaterOptions;
  readonly #limits: Limits;
  readonly #fetcher: Fetcher;
  readonly #metadataUrl: string;
  #trusted: TrustedSet | undefined;

  constructor(options: UpdaterOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#fetcher = options.fetcher ?? new HttpFetcher();
    this.#metadataUrl = options.metadataUrl.replace(/\/+$/, '');
  }

  #local(name: string): Buffer | undefined {
    const path = join(this.#options.metadataDir, `${quote(name)}.json`);
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  #persist(name: string, bytes: Uint8Array): void {
    writeFileAtomic(join(this.#options.metadataDir, `${quote(name)}.json`), bytes);
  }

  #fetchMetadata(role: string, file: string, maxBytes: number): Promise<Buffer> {
    return this.#fetcher.fetch(`${this.#metadataUrl}/${file}`, maxBytes, role);
  }

  /** Refreshes the top-level metadata: spec §5.1–§5.6.6. */
  async refresh(): Promise<RefreshReport> {
    // §5.1: one fixed time for the whole update.
    const now = (this.#options.time ?? new Date()).getTime();
    // §5.2: the trusted root from the client's store.
    const rootBytes = this.#local('root');
    if (!rootBytes) {
      throw new TrustError('root', 'not-found', `no root.json in ${this.#options.metadataDir}`, {
        hint: "run the client's init with the root you got out of band",
      });
    }
    const trusted = new TrustedSet(rootBytes, now);
    const startingRoot = trusted.root.signed;
    // §5.3.1–§5.3.9: walk the root versions one by one up to the newest.
    for (let i = 0; i < this.#limits.rootRotations; i++) {
      const next = nextVersion(trusted.root.signed.version);
      let bytes: Buffer;
      try {
        // §5.3.3
        bytes = await this.#fetchMetadata('root', `${next}.root.json`, this.#limits.rootBytes);
      } catch (error) {
        if (error instanceof TrustError && error.failure === 'not-found') break;
        throw error;
      }
      trusted.updateRoot(bytes); // §5.3.4–§5.3.7
      this.#persist('root', bytes); // §5.3.8
    }
    // §5.3.10
    trusted.checkRootFresh();
    // §5.3.11: new timestamp or snapshot keys: forget what the old keys signed (fast-forward recovery).
    if (!sameRoleKeys(startingRoot, trusted.root.signed, 'timestamp') || !sameRoleKeys(startingRoot, trusted.root.signed, 'snapshot')) {
      for (const name of ['timestamp', 'snapshot']) rmSync(join(this.#options.metadataDir, `${name}.json`), { force: true });
    }
    // §5.3.12
    const consistent = trusted.root.signed.consistent_snapshot === true;
    this.#trusted = trusted;

    // §5.4: timestamp. What we stored last time guards against rollback, if it still verifies.
    const localTimestamp = this.#local('timestamp');
    if (localTimestamp) ignoreRefusal(() => trusted.loadLocalTimestamp(localTimestamp));
    const timestampBytes = await this.#fetchMetadata('timestamp', 'timestamp.json', this.#limits.timestampBytes); // §5.4.1
    if (trusted.updateTimestamp(timestampBytes)) this.#persist('timestamp', timestampBytes); // §5.4.2–§5.4.5

    // §5.5: snapshot; the stored one is used as is when it is still the current one.
    const localSnapshot = this.#local('snapshot');
    if (localSnapshot) ignoreRefusal(() => trusted.loadLocalSnapshot(localSnapshot));
    if (!trusted.snapshotIsCurrent()) {
      const meta = trusted.timestamp!.signed.meta[SNAPSHOT_FILE];
      // §5.5.1
      const bytes = await this.#fetchMetadata(
        'snapshot',
        consistent ? `${meta.version}.snapshot.json` : 'snapshot.json',
        meta.length ?? this.#limits.snapshotBytes,
      );
      trusted.updateSnapshot(bytes); // §5.5.2–§5.5.6
      this.#persist('snapshot', bytes); // §5.5.7
    }

    // §5.6.1–§5.6.6: top-level targets.
    await this.#loadTargets('targets', 'root');
    return {
      root: trusted.root.signed.version,
      timestamp: trusted.timestamp!.signed.version,
      snapshot: trusted.snapshot!.signed.version,
      targets: trusted.targets.get('targets')!.signed.version,
      consistentSnapshot: consistent,
    };
  }

  /** Spec §5.6 for one targets role: the stored copy if it still checks out, else a download. */
  async #loadTargets(role: string, delegator: string): Promise<void> {
    const trusted = this.#trusted!;
    if (trusted.targets.has(role)) return;
    const local = this.#local(role);
    if (local && ignoreRefusal(() => trusted.updateTargets(local, role, delegator))) return;
    const meta = trusted.snapshot!.signed.meta[`${role}.json`];
    if (!meta) throw new TrustError(role, 'not-found', `the snapshot does not list ${role}.json`);
    const consistent = trusted.root.signed.consistent_snapshot === true;
    // §5.6.1
    const bytes = await this.#fetchMetadata(
      role,
      consistent ? metadataFile(role, meta.version) : `${quote(role)}.json`,
      meta.length ?? this.#limits.targetsBytes,
    );
    trusted.updateTargets(bytes, role, delegator); // §5.6.2–§5.6.5
    this.#persist(role, bytes); // §5.6.6
  }

  /** Spec §5.6.7: pre-order depth-first search of the delegations for `path`. */
  async findTarget(path: string): Promise<FoundTarget | undefined> {
    if (!this.#trusted) await this.refresh();
    const trusted = this.#trusted!;
    const visited = new Set<string>();
    const stack: Array<{ role: string; delegator: string }> = [{ role: 'targets', delegator: 'root' }];
    while (stack.length > 0 && visited.size < this.#limits.delegatedRoles) {
      const { role, delegator } = stack.pop()!;
      // §5.6.7.1: each role once (cycles), and only so many roles.
      if (visited.has(role)) continue;
      await this.#loadTargets(role, delegator);
      const targets = trusted.targets.get(role)!.signed;
      if (Object.hasOwn(targets.targets, path)) return { path, role, info: targets.targets[path]! };
      visited.add(role);
      // §5.6.7.2: the delegations that cover the path, in order; a terminating one ends the search after it.
      const children: Array<{ role: string; delegator: string }> = [];
      for (const child of targets.delegations ? rolesFor(targets.delegations, path) : []) {
        children.push({ role: child.name, delegator: role });
        if (child.terminating) {
          stack.length = 0; // §5.6.7.2.1
          break;
        }
      }
      stack.push(...children.reverse());
    }
    return undefined;
  }

  /**
   * Spec §5.7: the target's file in `targetDir`, downloaded up to its signed length and checked
   * against its signed hashes; a file already there with the right hashes is not downloaded again.
   */
  async downloadTarget(path: string, targetDir: string): Promise<{ file: string; target: FoundTarget; cached: boolean }> {
    const file = targetFile(targetDir, path); // before any download: a path that cannot be a file is refused at once
    const target = await this.findTarget(path);
    // §5.7.2
    if (!target) throw new TrustError('targets', 'not-found', `no role describes the target "${path}"`);
    if (existsSync(file) && matches(readFileSync(file), target.info)) return { file, target, cached: true };
    const base = this.#options.targetBaseUrl?.replace(/\/+$/, '');
    if (!base) throw new TrustError(target.role, 'not-found', 'no target base URL to download from');
    const slash = path.lastIndexOf('/');
    const hash = Object.values(target.info.hashes)[0]!;
    const name = this.#trusted!.root.signed.consistent_snapshot === true ? `${path.slice(0, slash + 1)}${hash}.${path.slice(slash + 1)}` : path;
    const url = `${base}/${name.split('/').map(encodeURIComponent).join('/')}`;
    // §5.7.3
    const bytes = await this.#fetcher.fetch(url, target.info.length, target.role);
    checkLengthAndHashes(bytes, target.info, target.role, `target "${path}"`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, bytes);
    return { file, target, cached: false };
  }
}

/**
 * Where a target is written: under its target path in `targetDir` ("releases/app.tar.gz" as
 * releases/app.tar.gz), as python-tuf's and tuf-js's users lay targets out. The path comes from the
 * caller and names signed metadata, yet it becomes a file name: nothing may lead out of `targetDir`.
 */
export function targetFile(targetDir: string, path: string): string {
  const parts = path.split('/');
  if (path.includes('\\') || path.includes('\0') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw keywardError('TUF_TARGET_PATH', `the target path "${path}" cannot be a file name under the target directory`, {
      hint: 'a target path is relative and "/"-separated, without empty, "." or ".." parts (and no backslash)',
    });
  }
  const file = resolve(targetDir, ...parts);
  const inside = relative(resolve(targetDir), file);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))
    throw new Error(`bug: target path "${path}" escaped ${targetDir}`);
  return file;
}

function matches(bytes: Buffer, info: TargetFile): boolean {
  return ignoreRefusal(() => checkLengthAndHashes(bytes, info, 'cache', 'cached file'));
}

/** Runs a check whose refusal only means "not usable" (a stale cache): true when it passed. */
function ignoreRefusal(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch (error) {
    if (error instanceof TrustError) return false;
    throw error;
  }
}
