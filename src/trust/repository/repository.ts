/**
 * The TUF repository writer. Every change is staged first (a new version of each role it touches),
 * signed one key at a time, on any machine and any day, and published only when every threshold is
 * met: then the staged roles are written under their version-prefixed names and a new snapshot and
 * timestamp are signed with the online keys. Nothing is signed outside a Keystore device.
 */
import { keywardError } from '../../errors.js';
import { KeyUri } from '../../keystore/uri/origin.js';
import type { Keystore } from '../../keystore/keystore.js';
import { checkRoleName, delegates, hashBins as makeHashBins, rolesFor, type DelegatedRole } from '../delegations.js';
import { keyIdOf, type TufKey } from '../keys.js';
import { formatExpiry, Metadata, SPEC_VERSION, TOP_LEVEL_ROLES, type RoleKeys, type Signed, type TopLevelRole } from '../metadata.js';
import { parseRoot, type RootSigned } from '../root.js';
import { metaFileOf, parseSnapshot, type SnapshotSigned } from '../snapshot.js';
import { parseTargets, type TargetFile, type TargetsSigned } from '../targets.js';
import { parseTimestamp, SNAPSHOT_FILE, type TimestampSigned } from '../timestamp.js';
import { quote } from '../client/updater.js';
import { checkTargetPath, DEFAULT_EXPIRY, RepositoryLayout, type ExpiryPolicy } from './layout.js';
import { lockRepository, type LockOptions } from './lock.js';
import { signerOf, signMetadata, type TufSigner } from './signer.js';

/** A key given to the writer: its public half, and a signer when it can sign here and now. */
export interface KeySource {
  key: TufKey;
  signer?: TufSigner;
}

export interface RoleSetup {
  keys: KeySource[];
  threshold: number;
}

export interface InitOptions {
  root: RoleSetup;
  targets: RoleSetup;
  snapshot: RoleSetup;
  timestamp: RoleSetup;
  expiry?: Partial<ExpiryPolicy>;
  /** The repository's lock (lock.ts), held while it is made: how long to wait for it. */
  lock?: LockOptions;
}

export interface KeyRef {
  keyid: string;
  uri?: string;
}

/** One threshold a staged role must meet (a root rotation has two: the old root's and its own). */
export interface Requirement {
  by: string;
  threshold: number;
  signed: KeyRef[];
  missing: KeyRef[];
  met: boolean;
}

export interface RoleStatus {
  role: string;
  version: number;
  expires: string;
  staged: boolean;
  met: boolean;
  requirements: Requirement[];
}

export interface PublishReport {
  published: Array<{ role: string; version: number }>;
  snapshot: number;
  timestamp: number;
}

function checkThreshold(threshold: number, keys: number, role: string): void {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw keywardError(
      'TUF_THRESHOLD_INVALID',
      `${role}: threshold ${threshold} refused: a threshold must be at least 1, or metadata would need no signature at all`,
    );
  }
  if (threshold > keys) throw keywardError('TUF_THRESHOLD_INVALID', `${role}: threshold ${threshold} cannot be met by ${keys} key${keys === 1 ? '' : 's'}`);
}

function roleKeysOf(keys: TufKey[], threshold: number): RoleKeys {
  return { keyids: [...new Set(keys.map(keyIdOf))], threshold };
}

export class Repository {
  readonly layout: RepositoryLayout;
  readonly #keystore: Keystore | undefined;
  readonly #now: () => Date;
  /** Published files, parsed once: a published N.role.json never changes (timestamp.json does). */
  readonly #published = new Map<string, Metadata<Signed>>();
  /** Staged roles and timestamp.json as last read: parsed again only when their bytes change. */
  readonly #mutable = new Map<string, { bytes: Buffer; metadata: Metadata<Signed> }>();

  private constructor(dir: string, keystore: Keystore | undefined, now: () => Date) {
    this.layout = new RepositoryLayout(dir);
    this.#keystore = keystore;
    this.#now = now;
  }

  static open(dir: string, keystore?: Keystore, now: () => Date = () => new Date()): Repository {
    const repo = new Repository(dir, keystore, now);
    repo.layout.readConfig();
    return repo;
  }

  /**
   * A new repository: root v1 and an empty targets v1 staged and signed by whichever of their keys
   * are at hand; published with snapshot and timestamp once root and targets meet their thresholds.
   */
  static async init(dir: string, options: InitOptions, keystore?: Keystore, now: () => Date = () => new Date()): Promise<Repository> {
    const setups = { root: options.root, targets: options.targets, snapshot: options.snapshot, timestamp: options.timestamp };
    for (const role of TOP_LEVEL_ROLES) checkThreshold(setups[role].threshold, new Set(setups[role].keys.map((s) => keyIdOf(s.key))).size, role);
    const repo = new Repository(dir, keystore, now);
    repo.layout.checkEmpty(); // before .keyward/ is made for the lock
    return repo.exclusive(() => repo.#init(setups, options), options.lock);
  }

  async #init(setups: Record<TopLevelRole, RoleSetup>, options: InitOptions): Promise<Repository> {
    const signers = Object.values(setups).flatMap((s) => s.keys.flatMap((k) => (k.signer ? [k.signer] : [])));
    this.layout.create({
      format: 1,
      expiry: { ...DEFAULT_EXPIRY, ...options.expiry },
      keys: Object.fromEntries(signers.map((s) => [s.keyid, KeyUri.of(s.uri)])),
    });
    const allKeys = Object.values(setups).flatMap((s) => s.keys.map((k) => k.key));
    const root: RootSigned = {
      _type: 'root',
      spec_version: SPEC_VERSION,
      version: 1,
      expires: this.#expiry('root'),
      consistent_snapshot: true,
      keys: Object.fromEntries(allKeys.map((k) => [keyIdOf(k), k])),
      roles: Object.fromEntries(
        TOP_LEVEL_ROLES.map((role) => [
          role,
          roleKeysOf(
            setups[role].keys.map((k) => k.key),
            setups[role].threshold,
          ),
        ]),
      ) as RootSigned['roles'],
    };
    this.#save(new Metadata<RootSigned>('root', { signed: root, signatures: [] }));
    this.#save(this.#newTargets('targets', 1));
    await this.sign(signers);
    if (this.ready()) await this.publish();
    return this;
  }

  /**
   * Runs `work` holding the repository's lock (lock.ts): every change, signature and publication
   * goes through here, or two writers at once would each write back a role without the other's
   * change. Waits for another writer up to `options.waitMs` (30 s), then refuses with TUF_REPO_BUSY.
   * Not re-entrant: `work` must not call exclusive again.
   */
  async exclusive<T>(work: () => Promise<T> | T, options?: LockOptions): Promise<T> {
    const release = await lockRepository(this.layout.files, this.layout.dir, options);
    try {
      return await work();
    } finally {
      release();
    }
  }

  #expiry(role: string): string {
    const policy = this.layout.readConfig().expiry;
    const days = (TOP_LEVEL_ROLES as readonly string[]).includes(role) ? policy[role as TopLevelRole] : policy.delegations;
    return formatExpiry(this.#now().getTime() + days * 86_400_000);
  }

  #newTargets(role: string, version: number): Metadata<TargetsSigned> {
    return new Metadata<TargetsSigned>(role, {
      signed: { _type: 'targets', spec_version: SPEC_VERSION, version, expires: this.#expiry(role), targets: {} },
      signatures: [],
    });
  }

  #save(metadata: Metadata<Signed>): void {
    const bytes = metadata.toBytes();
    this.layout.writeStaged(metadata.role, bytes);
    this.#mutable.set(`staged/${metadata.role}`, { bytes, metadata });
  }

  /** Parses bytes read from a file that may change, reusing the last parse while the bytes are the same. */
  #parseMutable<T extends Signed>(key: string, bytes: Buffer | undefined, parse: (bytes: Buffer) => Metadata<T>): Metadata<T> | undefined {
    if (!bytes) {
      this.#mutable.delete(key);
      return undefined;
    }
    const hit = this.#mutable.get(key);
    if (hit?.bytes.equals(bytes)) return hit.metadata as unknown as Metadata<T>;
    const metadata = parse(bytes);
    this.#mutable.set(key, { bytes, metadata: metadata as unknown as Metadata<Signed> });
    return metadata;
  }

  #readStaged(role: string): Metadata<Signed> | undefined {
    return this.#parseMutable(
      `staged/${role}`,
      this.layout.readStaged(role),
      (bytes) => (role === 'root' ? parseRoot(bytes) : parseTargets(bytes, role)) as unknown as Metadata<Signed>,
    );
  }

  // ── what is published, and what is current (staged over published) ─────────────────────────

  #parsePublished<T extends Signed>(file: string, parse: (bytes: Buffer) => Metadata<T>): Metadata<T> {
    let metadata = this.#published.get(file);
    if (!metadata) {
      metadata = parse(this.layout.readMetadata(file)) as unknown as Metadata<Signed>;
      this.#published.set(file, metadata);
    }
    return metadata as unknown as Metadata<T>;
  }

  publishedRoot(): Metadata<RootSigned> {
    return this.#parsePublished(`${this.layout.latestRootVersion()}.root.json`, parseRoot);
  }

  #publishedTimestamp(): Metadata<TimestampSigned> | undefined {
    return this.#parseMutable('timestamp.json', this.layout.readMetadataIfAny('timestamp.json'), parseTimestamp);
  }

  #publishedSnapshot(): Metadata<SnapshotSigned> | undefined {
    const timestamp = this.#publishedTimestamp();
    return timestamp && this.#parsePublished(`${timestamp.signed.meta[SNAPSHOT_FILE].version}.snapshot.json`, parseSnapshot);
  }

  #publishedTargets(role: string, snapshot = this.#publishedSnapshot()): Metadata<TargetsSigned> | undefined {
    const meta = snapshot?.signed.meta[`${role}.json`];
    return meta && this.#parsePublished(`${meta.version}.${quote(role)}.json`, (bytes) => parseTargets(bytes, role));
  }

  /** Root as it will be once staged changes are published. */
  root(): Metadata<RootSigned> {
    return (this.#readStaged('root') as unknown as Metadata<RootSigned> | undefined) ?? this.publishedRoot();
  }

  /** A targets role as it will be once staged changes are published. */
  targets(role: string): Metadata<TargetsSigned> | undefined {
    return (this.#readStaged(role) as unknown as Metadata<TargetsSigned> | undefined) ?? this.#publishedTargets(role);
  }

  /** Every targets role reachable from top-level targets, delegator before delegate. */
  targetsRoles(): string[] {
    const seen: string[] = [];
    const visit = (role: string) => {
      if (seen.includes(role)) return;
      seen.push(role);
      for (const child of this.targets(role)?.signed.delegations?.roles ?? []) visit(child.name);
    };
    visit('targets');
    return seen;
  }

  /** The delegation that names `role`, and the role that makes it. */
  delegationOf(role: string): { delegator: string; entry: DelegatedRole; keys: Record<string, TufKey> } {
    for (const delegator of this.targetsRoles()) {
      const delegations = this.targets(delegator)?.signed.delegations;
      const entry = delegations?.roles.find((r) => r.name === role);
      if (entry) return { delegator, entry, keys: delegations!.keys };
    }
    throw keywardError('TUF_ROLE_UNKNOWN', `no role delegates to "${role}"`, { hint: 'keyward trust repo status lists the roles' });
  }

  /** Stages `role` for a change: its next version with a fresh expiry (once per change). */
  #stage<T extends Signed>(role: string, load: () => Metadata<T> | undefined, create?: () => Metadata<T>): Metadata<T> {
    const staged = this.#readStaged(role);
    if (staged) return staged as unknown as Metadata<T>;
    const current = load();
    if (!current) {
      if (!create) throw keywardError('TUF_ROLE_UNKNOWN', `no role "${role}" in ${this.layout.dir}`);
      return create();
    }
    // Shares its parts with the cached published metadata: #edit changes a copy, never them.
    return new Metadata<T>(role, {
      ...current.envelope,
      signed: { ...current.signed, version: current.signed.version + 1, expires: this.#expiry(role) },
      signatures: [],
    });
  }

  #stageRoot(): Metadata<RootSigned> {
    return this.#stage('root', () => this.publishedRoot());
  }

  #stageTargets(role: string): Metadata<TargetsSigned> {
    return this.#stage(
      role,
      () => this.#publishedTargets(role),
      () => this.#newTargets(role, 1),
    );
  }

  /**
   * A delegated role (re)created by a delegation: empty, never the targets of an earlier role of that
   * name (undelegate leaves it in the snapshot), and at a version above any published one, or
   * clients that saw the old role would refuse the new one as a rollback.
   */
  #stageFreshTargets(role: string): void {
    const published = this.#publishedSnapshot()?.signed.meta[`${role}.json`]?.version ?? 0;
    this.#save(this.#newTargets(role, published + 1));
  }

  /**
   * Applies `edit` to a staged role and saves it; the content changed, so its signatures are dropped.
   * With them goes nothing else, so the expiry starts again too: signatures are gathered from the
   * last edit on, and a role staged weeks ago does not reach publication with days to live.
   * The edit works on a copy: one that throws halfway leaves the role as it was.
   */
  #edit<T extends Signed>(metadata: Metadata<T>, edit: (signed: T) => void): Metadata<T> {
    const signed = structuredClone(metadata.signed);
    edit(signed);
    signed.expires = this.#expiry(metadata.role);
    metadata.envelope.signed = signed;
    metadata.changed();
    this.#save(metadata);
    return metadata;
  }

  // ── changes ──────────────────────────────────────────────────────────────────────────────────

  /** The role a target belongs in: where the delegations lead its path (hash bins included). */
  responsibleRole(path: string): string {
    let role = 'targets';
    for (;;) {
      const delegations = this.targets(role)?.signed.delegations;
      const next = delegations && rolesFor(delegations, path)[0];
      if (!next) return role;
      role = next.name;
    }
  }

  /** Adds or replaces a target; returns the role that now describes it and what it said before. */
  addTarget(path: string, target: TargetFile, role?: string): { role: string; previous: TargetFile | undefined } {
    checkTargetPath(path);
    if (role === undefined) role = this.responsibleRole(path);
    else this.#checkDelegated(role, path);
    const metadata = this.#stageTargets(role);
    const previous = metadata.signed.targets[path];
    this.#edit(metadata, (signed) => void (signed.targets[path] = target));
    return { role, previous };
  }

  /** Adds many targets to one role in one edit (imports, benchmarks). */
  addTargets(targets: Record<string, TargetFile>, role = 'targets'): void {
    for (const path in targets) {
      checkTargetPath(path);
      this.#checkDelegated(role, path);
    }
    this.#edit(this.#stageTargets(role), (signed) => Object.assign(signed.targets, targets));
  }

  /**
   * Refuses a target put in `role` where clients never look: a role nothing delegates to, or one
   * whose delegation (or a delegation above it) does not cover the path.
   */
  #checkDelegated(role: string, path: string): void {
    for (let current = role; current !== 'targets';) {
      const { delegator, entry } = this.delegationOf(current);
      if (!delegates(entry, path)) {
        throw keywardError(
          'TUF_PATH_NOT_DELEGATED',
          `"${path}" is not delegated to "${current}"${current === role ? '' : ` (which delegates to "${role}")`}: clients would never look for it in "${role}"`,
          {
            hint: 'leave out the role (the delegations choose it), or delegate the path first',
          },
        );
      }
      current = delegator;
    }
  }

  /**
   * A delegation from `from` to a new role (path patterns or hash prefixes), with its own keys. The
   * role is staged too, empty, to be signed by its own keys: a delegation published without its
   * role's file would leave clients unable to search it (hash bins are made the same way).
   */
  delegate(
    from: string,
    role: { name: string; keys: TufKey[]; threshold: number; terminating?: boolean; paths?: string[]; pathHashPrefixes?: string[] },
  ): void {
    this.#checkDelegation(from, role);
    this.#edit(this.#stageTargets(from), (signed) => {
      signed.delegations ??= { keys: {}, roles: [] };
      for (const key of role.keys) signed.delegations.keys[keyIdOf(key)] = key;
      signed.delegations.roles.push({
        name: role.name,
        ...roleKeysOf(role.keys, role.threshold),
        terminating: role.terminating ?? false,
        ...(role.paths ? { paths: role.paths } : { path_hash_prefixes: role.pathHashPrefixes! }),
      });
    });
    this.#stageFreshTargets(role.name);
  }

  #checkDelegation(from: string, role: { name: string; keys: TufKey[]; threshold: number; paths?: string[]; pathHashPrefixes?: string[] }): void {
    checkRoleName(role.name, from);
    checkThreshold(role.threshold, new Set(role.keys.map(keyIdOf)).size, role.name);
    const roles = this.targetsRoles();
    if (!roles.includes(from))
      throw keywardError('TUF_ROLE_UNKNOWN', `no role "${from}" to delegate from`, { hint: 'keyward trust repo status lists the roles' });
    if (roles.includes(role.name)) throw keywardError('TUF_ROLE_EXISTS', `a role named "${role.name}" already exists`);
    if (!role.paths === !role.pathHashPrefixes)
      throw keywardError('TUF_DELEGATION_SCOPE', `delegation "${role.name}" needs either path patterns or hash prefixes`);
  }

  /** `count` hash-bin roles under `from`, sharing keys: for repositories too large for one file. */
  hashBins(from: string, count: number, keys: TufKey[], threshold: number, namePrefix = 'bins'): string[] {
    const delegations = makeHashBins(count, namePrefix).map((bin) => ({ name: bin.name, keys, threshold, terminating: true, pathHashPrefixes: bin.prefixes }));
    // All or nothing: every bin is checked before the first is staged.
    for (const bin of delegations) this.#checkDelegation(from, bin);
    for (const bin of delegations) this.delegate(from, bin);
    return delegations.map((b) => b.name);
  }

  /** Removes a delegated role. Its snapshot entry stays: clients refuse a snapshot that drops a listed file (spec §5.5.5). */
  undelegate(name: string): string {
    const { delegator } = this.delegationOf(name);
    this.#edit(this.#stageTargets(delegator), (signed) => {
      const delegations = signed.delegations!;
      delegations.roles = delegations.roles.filter((r) => r.name !== name);
      const used = new Set(delegations.roles.flatMap((r) => r.keyids));
      for (const keyid of Object.keys(delegations.keys)) if (!used.has(keyid)) delete delegations.keys[keyid];
    });
    // The role and its own delegates are unreachable now: their staged changes could never be published.
    const reachable = new Set(['root', ...this.targetsRoles()]);
    for (const role of this.layout.stagedRoles()) if (!reachable.has(role)) this.layout.removeStaged(role);
    return delegator;
  }

  /**
   * Key rotation for any role: keys added and removed, maybe a new threshold. For top-level roles
   * this is a new root (signed by the old root threshold and the new one); for a delegated role, a
   * new version of its delegator. The role itself is staged too, to be signed by its new keys.
   */
  rotate(role: string, change: { add?: TufKey[]; remove?: string[]; threshold?: number }): void {
    const apply = (current: RoleKeys, keys: Record<string, TufKey>) => {
      for (const id of change.remove ?? []) if (!current.keyids.includes(id)) throw keywardError('TUF_KEY_UNKNOWN', `${role} has no key ${id}`);
      const keyids = [...current.keyids.filter((id) => !(change.remove ?? []).includes(id))];
      for (const key of change.add ?? []) {
        const id = keyIdOf(key);
        keys[id] = key;
        if (!keyids.includes(id)) keyids.push(id);
      }
      const threshold = change.threshold ?? current.threshold;
      checkThreshold(threshold, keyids.length, role);
      current.keyids = keyids;
      current.threshold = threshold;
    };
    if ((TOP_LEVEL_ROLES as readonly string[]).includes(role)) {
      this.#edit(this.#stageRoot(), (signed) => {
        apply(signed.roles[role as TopLevelRole], signed.keys);
        const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
        for (const id of Object.keys(signed.keys)) if (!used.has(id)) delete signed.keys[id];
      });
      if (role === 'targets') this.#save(this.#stageTargets('targets'));
      return;
    }
    const { delegator } = this.delegationOf(role);
    this.#edit(this.#stageTargets(delegator), (signed) =>
      apply(
        signed.delegations!.roles.find((r) => r.name === role)!,
        signed.delegations!.keys,
      ),
    );
    this.#save(this.#stageTargets(role));
  }

  // ── signatures ───────────────────────────────────────────────────────────────────────────────

  /** What each staged role needs: keys and thresholds, from the metadata that will be trusted. */
  #requirements(role: string, metadata: Metadata<Signed>): Requirement[] {
    const config = this.layout.readConfig();
    const requirement = (by: string, keys: Record<string, TufKey>, entry: RoleKeys): Requirement => {
      const verified = metadata.verifiedKeyIds(keys, entry);
      const ref = (keyid: string): KeyRef => (config.keys[keyid] ? { keyid, uri: config.keys[keyid].text } : { keyid });
      return {
        by,
        threshold: entry.threshold,
        signed: entry.keyids.filter((id) => verified.has(id)).map(ref),
        missing: entry.keyids.filter((id) => !verified.has(id)).map(ref),
        met: verified.size >= entry.threshold,
      };
    };
    if (role === 'root') {
      const next = metadata as Metadata<RootSigned>;
      const own = requirement(`root v${next.signed.version}`, next.signed.keys, next.signed.roles.root);
      if (next.signed.version === 1) return [own];
      const trusted = this.publishedRoot();
      return [requirement(`root v${trusted.signed.version} (the trusted root)`, trusted.signed.keys, trusted.signed.roles.root), own];
    }
    const root = this.root().signed;
    if ((TOP_LEVEL_ROLES as readonly string[]).includes(role)) return [requirement('root', root.keys, root.roles[role as TopLevelRole])];
    const { delegator, entry, keys } = this.delegationOf(role);
    return [requirement(delegator, keys, entry)];
  }

  /** The staged roles, root first, then delegators before their delegates. */
  #staged(): Array<Metadata<Signed>> {
    const order = ['root', ...this.targetsRoles()];
    const roles = this.layout.stagedRoles();
    const orphan = roles.find((role) => !order.includes(role));
    if (orphan) {
      throw keywardError(
        'TUF_STAGED_ORPHAN',
        `${this.layout.stagedPath(orphan)} stages role "${orphan}", which no role delegates to: it can never be signed or published`,
        {
          hint: 'delete that file, or delegate to the role first (keyward trust repo delegate)',
        },
      );
    }
    return roles.sort((a, b) => order.indexOf(a) - order.indexOf(b)).map((role) => this.#readStaged(role)!);
  }

  /** Refuses staged metadata that clients would reject as expired: its expiry was set when it was staged. */
  #checkUnexpired(metadata: Metadata<Signed>): void {
    if (Date.parse(metadata.signed.expires) > this.#now().getTime()) return;
    throw keywardError(
      'TUF_STAGED_EXPIRED',
      `staged ${metadata.role} v${metadata.signed.version} expired at ${metadata.signed.expires}: clients would refuse it`,
      {
        hint: `delete ${this.layout.stagedPath(metadata.role)} and make the change again (it gets a fresh expiry), then collect its signatures before it expires`,
      },
    );
  }

  /**
   * Signs every staged role (or only `roles`) that a signer's key may sign; returns who signed what.
   * A signature already there from the same key is replaced, never counted twice.
   */
  async sign(signers: TufSigner[], roles?: string[]): Promise<Array<{ role: string; keyid: string; uri: string }>> {
    const done: Array<{ role: string; keyid: string; uri: string }> = [];
    const staged = this.#staged().filter((m) => !roles || roles.includes(m.role));
    for (const metadata of staged) this.#checkUnexpired(metadata);
    for (const metadata of staged) {
      const allowed = new Set(this.#requirements(metadata.role, metadata).flatMap((r) => [...r.signed, ...r.missing].map((k) => k.keyid)));
      for (const signer of signers.filter((s) => allowed.has(s.keyid))) {
        await signMetadata(metadata, signer);
        done.push({ role: metadata.role, keyid: signer.keyid, uri: signer.uri });
      }
      this.#save(metadata);
    }
    return done;
  }

  /** Per role: version, expiry, staged or published, who signed, who is missing, thresholds met. */
  status(): RoleStatus[] {
    const staged = new Map(this.#staged().map((m) => [m.role, m]));
    const entry = (metadata: Metadata<Signed>, isStaged: boolean): RoleStatus => {
      const requirements = this.#requirements(metadata.role, metadata);
      return {
        role: metadata.role,
        version: metadata.signed.version,
        expires: metadata.signed.expires,
        staged: isStaged,
        met: requirements.every((r) => r.met),
        requirements,
      };
    };
    const of = (role: string, published: () => Metadata<Signed> | undefined): RoleStatus[] => {
      const metadata = staged.get(role) ?? published();
      return metadata ? [entry(metadata, staged.has(role))] : [];
    };
    const snapshot = this.#publishedSnapshot();
    return [
      ...of('root', () => this.publishedRoot() as unknown as Metadata<Signed>),
      ...this.targetsRoles().flatMap((role) => of(role, () => this.#publishedTargets(role, snapshot) as unknown as Metadata<Signed>)),
      ...of('snapshot', () => snapshot as unknown as Metadata<Signed>),
      ...of('timestamp', () => this.#publishedTimestamp() as unknown as Metadata<Signed>),
    ];
  }

  /** Whether there are staged changes and every one of them meets its thresholds. */
  ready(): boolean {
    const staged = this.#staged();
    return staged.length > 0 && staged.every((m) => this.#requirements(m.role, m).every((r) => r.met));
  }

  /**
   * Drops staged changes, with the signatures collected for them: all of them, or those of `roles`
   * (refused, before anything is dropped, for a role with nothing staged). A staged role that can
   * no longer be reached (its delegation was staged in a role dropped here) goes too. Returns the
   * roles dropped.
   */
  discard(roles?: string[]): string[] {
    const staged = this.layout.stagedRoles();
    if (staged.length === 0)
      throw keywardError('TUF_NOTHING_STAGED', `${this.layout.dir} has no staged changes to discard`, {
        hint: 'keyward trust repo status shows the repository',
      });
    const unstaged = (roles ?? []).filter((role) => !staged.includes(role));
    if (unstaged.length)
      throw keywardError('TUF_NOTHING_STAGED', `nothing is staged for ${unstaged.map((r) => `"${r}"`).join(', ')}; staged: ${staged.join(', ')}`, {
        hint: 'name staged roles, or none to discard every staged change',
      });
    const dropped = roles ? [...new Set(roles)] : staged;
    for (const role of dropped) this.layout.removeStaged(role);
    const reachable = new Set(['root', ...this.targetsRoles()]);
    for (const role of this.layout.stagedRoles()) {
      if (reachable.has(role)) continue;
      this.layout.removeStaged(role);
      dropped.push(role);
    }
    return dropped;
  }

  hasStagedChanges(): boolean {
    return this.layout.stagedRoles().length > 0;
  }

  // ── publishing ───────────────────────────────────────────────────────────────────────────────

  /** Signers for an online role (snapshot, timestamp) from the key URIs the repository knows. */
  async #onlineSigners(role: 'snapshot' | 'timestamp', root: RootSigned): Promise<TufSigner[]> {
    const entry = root.roles[role];
    const uris = this.layout.readConfig().keys;
    const signers: TufSigner[] = [];
    for (const keyid of entry.keyids) {
      if (signers.length >= entry.threshold) break;
      const uri = uris[keyid];
      if (!uri || !this.#keystore) continue;
      const signer = await signerOf(await this.#keystore.open(uri));
      if (signer.keyid !== keyid)
        throw keywardError('TUF_KEY_MOVED', `${uri.text} no longer holds ${role} key ${keyid}`, {
          hint: 'rotate the key (keyward trust repo rotate-key) or fix the URI',
        });
      signers.push(signer);
    }
    if (signers.length < entry.threshold) {
      throw keywardError('TUF_ONLINE_KEY', `cannot sign ${role}: ${signers.length} of the ${entry.threshold} keys it needs can be opened here`, {
        hint: `run this where the ${role} key${entry.threshold > 1 ? 's are' : ' is'} (a Keystore URI recorded at init or rotation), or publish from that machine with keyward trust repo refresh`,
      });
    }
    return signers;
  }

  async #signOnline<T extends Signed>(metadata: Metadata<T>, role: 'snapshot' | 'timestamp', root: RootSigned): Promise<Buffer> {
    for (const signer of await this.#onlineSigners(role, root)) await signMetadata(metadata, signer);
    return metadata.toBytes();
  }

  /**
   * Publishes the staged changes, all or nothing: refuses while any threshold is unmet; then writes
   * the roles, a new snapshot and a new timestamp.
   */
  async publish(): Promise<PublishReport> {
    const staged = this.#staged();
    for (const metadata of staged) {
      this.#checkUnexpired(metadata);
      const unmet = this.#requirements(metadata.role, metadata).filter((r) => !r.met);
      if (unmet.length) {
        throw keywardError(
          'TUF_THRESHOLD_UNMET',
          `${metadata.role} v${metadata.signed.version} is not ready: ${unmet.map((r) => `${r.by} needs ${r.threshold}, has ${r.signed.length}`).join('; ')}`,
          {
            hint: 'sign it with the missing keys (keyward trust repo status shows which) and publish again',
          },
        );
      }
    }
    const root = this.root().signed;
    const previous = this.#publishedSnapshot();
    // Online signatures first: if a key is missing, nothing has been written yet.
    const snapshot = new Metadata<SnapshotSigned>('snapshot', {
      signed: {
        _type: 'snapshot',
        spec_version: SPEC_VERSION,
        version: (previous?.signed.version ?? 0) + 1,
        expires: this.#expiry('snapshot'),
        meta: { ...previous?.signed.meta },
      },
      signatures: [],
    });
    const files: Array<[string, Buffer]> = [];
    for (const metadata of staged) {
      const bytes = metadata.toBytes();
      if (metadata.role === 'root') files.push([`${metadata.signed.version}.root.json`, bytes]);
      else {
        files.push([`${metadata.signed.version}.${quote(metadata.role)}.json`, bytes]);
        snapshot.signed.meta[`${metadata.role}.json`] = metaFileOf(bytes, metadata.signed.version, false);
      }
    }
    const snapshotBytes = await this.#signOnline(snapshot, 'snapshot', root);
    const timestamp = await this.#nextTimestamp(snapshotBytes, snapshot.signed.version, root);
    // Root first (clients walk to it), then targets roles, then snapshot; timestamp last makes it visible.
    for (const [file, bytes] of files) this.layout.writeMetadata(file, bytes);
    this.layout.writeMetadata(`${snapshot.signed.version}.snapshot.json`, snapshotBytes);
    this.layout.writeMetadata('timestamp.json', timestamp.bytes);
    for (const metadata of staged) this.layout.removeStaged(metadata.role);
    return { published: staged.map((m) => ({ role: m.role, version: m.signed.version })), snapshot: snapshot.signed.version, timestamp: timestamp.version };
  }

  async #nextTimestamp(snapshotBytes: Buffer, snapshotVersion: number, root: RootSigned): Promise<{ bytes: Buffer; version: number }> {
    const version = (this.#publishedTimestamp()?.signed.version ?? 0) + 1;
    const timestamp = new Metadata<TimestampSigned>('timestamp', {
      signed: {
        _type: 'timestamp',
        spec_version: SPEC_VERSION,
        version,
        expires: this.#expiry('timestamp'),
        meta: { [SNAPSHOT_FILE]: metaFileOf(snapshotBytes, snapshotVersion, true) },
      },
      signatures: [],
    });
    return { bytes: await this.#signOnline(timestamp, 'timestamp', root), version };
  }

  /**
   * What a cron job runs: publishes staged changes whose thresholds are met, otherwise signs a new
   * timestamp (and a new snapshot when asked, or when the current one is past half its life).
   */
  async refresh(options: { snapshot?: boolean } = {}): Promise<PublishReport> {
    if (this.ready()) return this.publish();
    const root = this.publishedRoot().signed;
    const previous = this.#publishedSnapshot();
    if (!previous)
      throw keywardError('TUF_METADATA_MISSING', `${this.layout.dir} has never been published`, {
        hint: 'finish signing root and targets (keyward trust repo status)',
      });
    const halfLife = (this.layout.readConfig().expiry.snapshot * 86_400_000) / 2;
    let snapshotBytes = this.layout.readMetadata(`${previous.signed.version}.snapshot.json`);
    let snapshotVersion = previous.signed.version;
    if (options.snapshot || Date.parse(previous.signed.expires) - this.#now().getTime() < halfLife) {
      const snapshot = new Metadata<SnapshotSigned>('snapshot', {
        signed: { ...previous.signed, version: previous.signed.version + 1, expires: this.#expiry('snapshot') },
        signatures: [],
      });
      snapshotBytes = await this.#signOnline(snapshot, 'snapshot', root);
      snapshotVersion = snapshot.signed.version;
    }
    const timestamp = await this.#nextTimestamp(snapshotBytes, snapshotVersion, root);
    if (snapshotVersion !== previous.signed.version) this.layout.writeMetadata(`${snapshotVersion}.snapshot.json`, snapshotBytes);
    this.layout.writeMetadata('timestamp.json', timestamp.bytes);
    return { published: [], snapshot: snapshotVersion, timestamp: timestamp.version };
  }

  /** The recorded URIs of the keys that may sign `role` (read from repo.json: file-borne). */
  keyUris(role: string): KeyUri[] {
    const entry = (TOP_LEVEL_ROLES as readonly string[]).includes(role) ? this.root().signed.roles[role as TopLevelRole] : this.delegationOf(role).entry;
    const uris = this.layout.readConfig().keys;
    return entry.keyids.flatMap((id) => (uris[id] ? [uris[id]] : []));
  }

  /** Remembers where a key lives, so that later commands can open it by key id. */
  rememberKey(signer: TufSigner): void {
    const config = this.layout.readConfig();
    if (config.keys[signer.keyid]?.text === signer.uri) return;
    config.keys[signer.keyid] = KeyUri.of(signer.uri);
    this.layout.writeConfig(config);
  }
}
