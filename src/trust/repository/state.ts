/**
 * The writer's read model: what is published, what is staged, and what the roles will be once the
 * staged changes are published (staged over published). A change in progress lives in a draft, in
 * memory: its roles reach .keyward/staged/ only when the change is committed, after it was signed,
 * so a change stopped halfway (Ctrl-C at the touch, a wrong PIN, a kill) leaves nothing behind.
 */
import { keywardError } from '../../errors.js';
import { delegatedRole, rolesFor, succinctBins, type Delegations } from '../delegations.js';
import { TrustError } from '../errors.js';
import { metadataFile } from '../file-names.js';
import type { TufKey } from '../keys.js';
import { formatExpiry, Metadata, SPEC_VERSION, TOP_LEVEL_ROLES, type RoleKeys, type Signed, type TopLevelRole } from '../metadata.js';
import { parseRoot, type RootSigned } from '../root.js';
import { parseSnapshot, type SnapshotSigned } from '../snapshot.js';
import { parseTargets, type TargetsSigned } from '../targets.js';
import { parseTimestamp, SNAPSHOT_FILE, type TimestampSigned } from '../timestamp.js';
import type { PublishedStore } from './store.js';
import type { Workspace } from './workspace.js';

/** A role that can be staged: root, or a targets role (snapshot and timestamp are made at publication). */
export type StagedMetadata = Metadata<RootSigned> | Metadata<TargetsSigned>;

export const isTopLevel = (role: string): role is TopLevelRole => (TOP_LEVEL_ROLES as readonly string[]).includes(role);

/** Parsed files by name, each parsed again only when its bytes change (published N.role.json never do). */
class ParsedFiles<T extends Signed> {
  readonly #entries = new Map<string, { bytes: Buffer; metadata: Metadata<T> }>();

  get(name: string, bytes: Buffer | undefined, parse: (bytes: Buffer) => Metadata<T>): Metadata<T> | undefined {
    if (!bytes) {
      this.#entries.delete(name);
      return undefined;
    }
    const hit = this.#entries.get(name);
    if (hit?.bytes.equals(bytes)) return hit.metadata;
    const metadata = parse(bytes);
    this.#entries.set(name, { bytes, metadata });
    return metadata;
  }
}

/** What one state shares with the others of its repository: where files are, and what was parsed. */
export class RepositorySources {
  readonly roots = new ParsedFiles<RootSigned>();
  readonly snapshots = new ParsedFiles<SnapshotSigned>();
  readonly timestamps = new ParsedFiles<TimestampSigned>();
  readonly targets = new ParsedFiles<TargetsSigned>();
  readonly stagedRoots = new ParsedFiles<RootSigned>();
  readonly stagedTargets = new ParsedFiles<TargetsSigned>();

  constructor(
    readonly workspace: Workspace,
    readonly store: PublishedStore,
    readonly now: () => Date,
  ) {}
}

export class RepositoryState {
  readonly sources: RepositorySources;
  /** Roles of the change in progress, not on disk yet; null: to be removed from .keyward/staged/. */
  readonly #draft = new Map<string, StagedMetadata | null>();
  /** Roles whose staged files this state does not see: what a change would be without what others staged there. */
  readonly #unseen: ReadonlySet<string>;

  constructor(sources: RepositorySources, options: { unseen?: ReadonlySet<string> } = {}) {
    this.sources = sources;
    this.#unseen = options.unseen ?? new Set();
  }

  get workspace(): Workspace {
    return this.sources.workspace;
  }

  now(): Date {
    return this.sources.now();
  }

  /** The expiry a role gets when it is (re)signed now, by the repository's policy. */
  expiry(role: string): string {
    const policy = this.workspace.readConfig().expiry;
    return formatExpiry(this.now().getTime() + (isTopLevel(role) ? policy[role] : policy.delegations) * 86_400_000);
  }

  newTargets(role: string, version: number): Metadata<TargetsSigned> {
    return new Metadata<TargetsSigned>(role, {
      signed: { _type: 'targets', spec_version: SPEC_VERSION, version, expires: this.expiry(role), targets: {} },
      signatures: [],
    });
  }

  // ── published ────────────────────────────────────────────────────────────────────────────────

  #readPublished(file: string): Buffer {
    const bytes = this.sources.store.readMetadata(file);
    if (!bytes)
      throw keywardError('TUF_METADATA_MISSING', `${this.sources.store.location}: metadata/${file} is missing`, {
        hint: 'the repository is incomplete; restore it from a backup',
      });
    return bytes;
  }

  publishedRoot(): Metadata<RootSigned> {
    const file = `${this.sources.store.latestRootVersion()}.root.json`;
    return this.sources.roots.get(file, this.#readPublished(file), parseRoot)!;
  }

  /** The newest published root, or undefined before the first publication. */
  publishedRootIfAny(): Metadata<RootSigned> | undefined {
    return this.sources.store.readMetadata('1.root.json') ? this.publishedRoot() : undefined;
  }

  publishedTimestamp(): Metadata<TimestampSigned> | undefined {
    return this.sources.timestamps.get('timestamp.json', this.sources.store.readMetadata('timestamp.json'), parseTimestamp);
  }

  publishedSnapshot(): Metadata<SnapshotSigned> | undefined {
    const version = this.publishedTimestamp()?.signed.meta[SNAPSHOT_FILE].version;
    if (version === undefined) return undefined;
    const file = metadataFile('snapshot', version);
    return this.sources.snapshots.get(file, this.#readPublished(file), parseSnapshot);
  }

  /** The published version of a targets role: in the snapshot (0 when it has never been published). */
  publishedVersion(role: string): number {
    return this.publishedSnapshot()?.signed.meta[`${role}.json`]?.version ?? 0;
  }

  publishedTargets(role: string): Metadata<TargetsSigned> | undefined {
    const version = this.publishedVersion(role);
    if (version === 0) return undefined;
    const file = metadataFile(role, version);
    return this.sources.targets.get(file, this.#readPublished(file), (bytes) => parseTargets(bytes, role));
  }

  /** The metadata clients see now of any role, staged or not (status). */
  published(role: string): Metadata<Signed> | undefined {
    if (role === 'root') return this.publishedRootIfAny();
    if (role === 'timestamp') return this.publishedTimestamp();
    if (role === 'snapshot') return this.publishedSnapshot();
    return this.publishedTargets(role);
  }

  // ── staged ───────────────────────────────────────────────────────────────────────────────────

  /** The roles staged: on disk and in the draft. */
  stagedRoles(): string[] {
    const roles = new Set(this.workspace.stagedRoles().filter((role) => !this.#unseen.has(role) && !this.#isLeftover(role)));
    for (const [role, metadata] of this.#draft) {
      if (metadata) roles.add(role);
      else roles.delete(role);
    }
    return [...roles];
  }

  staged(role: string): StagedMetadata | undefined {
    if (this.#draft.has(role)) return this.#draft.get(role) ?? undefined;
    return this.#unseen.has(role) ? undefined : this.stagedOnDisk(role);
  }

  /**
   * A staged file as it is on disk, refused (with its name) unless it is a well-formed next version
   * of its role: anyone who can write the directory can put a file there, and what it says is
   * signed by the next key holder only after they have seen it (review.ts).
   */
  stagedOnDisk(role: string): StagedMetadata | undefined {
    const bytes = this.workspace.readStaged(role);
    const path = () => this.workspace.stagedPath(role);
    if (bytes && this.#isLeftover(role, bytes)) return undefined;
    try {
      const metadata =
        role === 'root' ? this.sources.stagedRoots.get(role, bytes, parseRoot) : this.sources.stagedTargets.get(role, bytes, (b) => parseTargets(b, role));
      if (metadata) this.#checkNextVersion(metadata);
      return metadata;
    } catch (cause) {
      if (!(cause instanceof TrustError)) throw cause;
      throw keywardError('TUF_STAGED_INVALID', `${path()} is not a staged change Keyward can sign: ${cause.message}`, {
        cause,
        hint: `see what it is and who put it there; keyward trust repo discard ${this.workspace.dir} ${role} drops it`,
      });
    }
  }

  /**
   * A staged file a publication left behind: the published file of its role and version, byte for
   * byte. The writer publishes, then unstages; a reader between the two (it holds no lock), or a
   * writer killed between them, finds it. It is not staged any more; the next writer removes it.
   */
  #isLeftover(role: string, bytes = this.workspace.readStaged(role)): boolean {
    if (!bytes) return false;
    const version = role === 'root' ? this.publishedRootIfAny()?.signed.version : this.publishedVersion(role);
    return version !== undefined && version > 0 && (this.sources.store.readMetadata(metadataFile(role, version))?.equals(bytes) ?? false);
  }

  /** Removes what publications left in .keyward/staged/ (the caller holds the lock). */
  removeLeftovers(): void {
    for (const role of this.workspace.stagedRoles()) if (this.#isLeftover(role)) this.workspace.removeStaged(role);
  }

  #checkNextVersion(metadata: StagedMetadata): void {
    const role = metadata.role;
    const expected = (role === 'root' ? (this.publishedRootIfAny()?.signed.version ?? 0) : this.publishedVersion(role)) + 1;
    if (metadata.signed.version !== expected)
      throw new TrustError(role, 'rollback', `it is version ${metadata.signed.version}; the next version of ${role} is ${expected}`);
    const policy = this.workspace.readConfig().expiry;
    const days = isTopLevel(role) ? policy[role] : policy.delegations;
    if (Date.parse(metadata.signed.expires) > this.now().getTime() + days * 86_400_000)
      throw new TrustError(role, 'malformed', `it expires at ${metadata.signed.expires}, later than the repository's policy allows (${days} days)`);
  }

  /** Unstages the roles no delegation reaches any more: their changes could never be published. Returns them. */
  unstageUnreachable(): string[] {
    const reachable = new Set(['root', ...this.targetsRoles()]);
    const dropped = this.stagedRoles().filter((role) => !reachable.has(role));
    for (const role of dropped) this.unstage(role);
    return dropped;
  }

  /** Keeps a staged role in the draft (written at commit). */
  save(metadata: StagedMetadata): void {
    this.#draft.set(metadata.role, metadata);
  }

  unstage(role: string): void {
    this.#draft.set(role, null);
  }

  /** Writes the draft to .keyward/staged/, or removes what it removed; the draft is then empty. */
  commit(): void {
    for (const [role, metadata] of this.#draft) {
      if (metadata) this.workspace.writeStaged(role, metadata.toBytes());
      else this.workspace.removeStaged(role);
    }
    this.#draft.clear();
  }

  /** Forgets the draft: the staged files stay as they were. */
  rollback(): void {
    this.#draft.clear();
  }

  // ── current: staged over published ───────────────────────────────────────────────────────────

  /** Root as it will be once staged changes are published. */
  root(): Metadata<RootSigned> {
    const staged = this.staged('root');
    return staged ? (staged as Metadata<RootSigned>) : this.publishedRoot();
  }

  /** A targets role as it will be once staged changes are published. */
  targets(role: string): Metadata<TargetsSigned> | undefined {
    if (role === 'root') return undefined;
    return (this.staged(role) as Metadata<TargetsSigned> | undefined) ?? this.publishedTargets(role);
  }

  /**
   * Every targets role reachable from top-level targets, delegator before delegate. Of succinct hash
   * bins (TAP 15, 2^bit_length of them), those with a file: published or staged.
   */
  targetsRoles(): string[] {
    const seen: string[] = [];
    const existing = () => [...Object.keys(this.publishedSnapshot()?.signed.meta ?? {}).map((f) => f.slice(0, -'.json'.length)), ...this.stagedRoles()];
    const visit = (role: string) => {
      if (seen.includes(role)) return;
      seen.push(role);
      const delegations = this.targets(role)?.signed.delegations;
      if (!delegations) return;
      const children = delegations.succinct_roles ? succinctBins(delegations.succinct_roles, existing()) : (delegations.roles ?? []).map((r) => r.name);
      for (const child of children) visit(child);
    };
    visit('targets');
    return seen;
  }

  /** The delegation that names `role`, and the role that makes it. */
  delegationOf(role: string): { delegator: string; entry: RoleKeys; keys: Record<string, TufKey>; delegations: Delegations } {
    for (const delegator of this.targetsRoles()) {
      const delegations = this.targets(delegator)?.signed.delegations;
      const entry = delegations && delegatedRole(delegations, role);
      if (entry) return { delegator, entry, keys: delegations.keys, delegations };
    }
    throw keywardError('TUF_ROLE_UNKNOWN', `no role delegates to "${role}"`, { hint: 'keyward trust repo status lists the roles' });
  }

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

  /**
   * Whether clients looking for `path` would search `role`: it is reached from top-level targets
   * through delegations that each cover the path. Refused with the delegation that does not.
   */
  checkDelegated(role: string, path: string): void {
    for (let current = role; current !== 'targets';) {
      const { delegator, delegations } = this.delegationOf(current);
      if (!rolesFor(delegations, path).some((r) => r.name === current)) {
        throw keywardError(
          'TUF_PATH_NOT_DELEGATED',
          `"${path}" is not delegated to "${current}"${current === role ? '' : ` (which delegates to "${role}")`}: clients would never look for it in "${role}"`,
          { hint: 'leave out the role (the delegations choose it), or delegate the path first' },
        );
      }
      current = delegator;
    }
  }

  // ── staging ──────────────────────────────────────────────────────────────────────────────────

  /** Stages `role` for a change: its next version with a fresh expiry, kept in the draft (once per change). */
  #stage<T extends RootSigned | TargetsSigned>(role: string, current: Metadata<T> | undefined, create?: () => Metadata<T>): Metadata<T> {
    const staged = this.staged(role) as Metadata<T> | undefined;
    if (staged) return staged;
    if (!current) {
      if (!create) throw keywardError('TUF_ROLE_UNKNOWN', `no role "${role}" in ${this.workspace.dir}`);
      return this.#keep(create());
    }
    // Shares its parts with the cached published metadata: edit() changes a copy, never them.
    return this.#keep(
      new Metadata<T>(role, {
        ...current.envelope,
        signed: { ...current.signed, version: current.signed.version + 1, expires: this.expiry(role) },
        signatures: [],
      }),
    );
  }

  #keep<T extends RootSigned | TargetsSigned>(metadata: Metadata<T>): Metadata<T> {
    this.save(metadata as StagedMetadata);
    return metadata;
  }

  stageRoot(): Metadata<RootSigned> {
    return this.#stage('root', this.publishedRoot());
  }

  stageTargets(role: string): Metadata<TargetsSigned> {
    return this.#stage(role, this.publishedTargets(role), () => this.newTargets(role, 1));
  }

  /**
   * A delegated role (re)created by a delegation: empty, never the targets of an earlier role of that
   * name (undelegate leaves it in the snapshot), and at a version above any published one, or
   * clients that saw the old role would refuse the new one as a rollback.
   */
  stageFreshTargets(role: string): void {
    this.save(this.newTargets(role, this.publishedVersion(role) + 1));
  }

  /**
   * Applies `edit` to a staged role. When the content changed, its signatures are dropped, and with
   * them the expiry starts again: signatures are gathered from the last edit on, and a role staged
   * weeks ago does not reach publication with days to live. An edit that changes nothing (a second
   * signer adding the same target) keeps the signatures already there: co-signing adds. The edit
   * works on a copy: one that throws halfway leaves the role as it was.
   */
  edit<T extends RootSigned | TargetsSigned>(metadata: Metadata<T>, edit: (signed: T) => void): Metadata<T> {
    const signed = structuredClone(metadata.signed);
    edit(signed);
    const candidate = new Metadata<T>(metadata.role, { ...metadata.envelope, signed, signatures: [] });
    if (candidate.canonical.equals(metadata.canonical)) return metadata;
    signed.expires = this.expiry(metadata.role);
    metadata.envelope.signed = signed;
    metadata.changed();
    this.save(metadata as StagedMetadata);
    return metadata;
  }
}
