/**
 * The TUF repository writer. Every change is staged first (a new version of each role it touches),
 * signed one key at a time, on any machine and any day, and published only when every threshold is
 * met: then the staged roles are written under their version-prefixed names and a new snapshot and
 * timestamp are signed with the online keys. Nothing is signed outside a Keystore device.
 *
 * One writer at a time: every write takes the repository's lock (lock.ts). A change is one call,
 * `change(…)`: the edit is made in memory, content staged by others is shown for approval before
 * anyone's key signs it, the signatures are made, and only then do the staged files, the target
 * files and the key URIs reach the disk; any failure before leaves the repository as it was.
 */
import { keywardError, UnavailableError } from '../../errors.js';
import type { Keystore } from '../../keystore/keystore.js';
import { KeyUri } from '../../keystore/uri/origin.js';
import { keyIdOf } from '../keys.js';
import { Metadata, SPEC_VERSION, TOP_LEVEL_ROLES, type TopLevelRole } from '../metadata.js';
import type { RootSigned } from '../root.js';
import type { TargetsSigned } from '../targets.js';
import type { TufSigner } from '../signer.js';
import { checkThreshold, roleKeysOf, RepositoryEdits } from './edits.js';
import { lockRepository, type LockOptions } from './lock.js';
import { Publisher, type PublishReport } from './publishing.js';
import { ready, requirements, signStaged, stagedInOrder, status, type RoleStatus, type SignatureMade } from './requirements.js';
import { changesOf, stagedDigest, type Approval, type Review, type RoleReview } from './review.js';
import { isTopLevel, RepositorySources, RepositoryState } from './state.js';
import { DirectoryStore, type PublishedStore } from './store.js';
import { DEFAULT_EXPIRY, PUBLIC, REPOSITORY_FORMAT, Workspace, type ExpiryPolicy } from './workspace.js';
import type { TufKey } from '../keys.js';

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
}

export interface RepositoryOptions {
  /** Opens the online keys (snapshot, timestamp) by the URIs the repository recorded. */
  keystore?: Keystore;
  now?: () => Date;
  /** How long a writer waits for another (lock.ts). */
  lock?: LockOptions;
  /** Where publications go (default: public/ of the directory). */
  store?: PublishedStore;
}

export interface ChangeRequest<T> {
  /** The change, made on the draft; returns what the caller wants to report. */
  edit?: (edits: RepositoryEdits) => T;
  /** Keys to sign the staged roles with, opened beforehand (PINs asked before the lock is taken). */
  signers?: TufSigner[];
  /** Sign only these roles. */
  roles?: string[];
  /** Keys the change names (a new delegation's), whose URIs are recorded with the signers'. */
  remember?: TufSigner[];
  /**
   * Asked before signing content staged by someone else (review.ts); without it such content is
   * refused. Returns to sign, throws to refuse.
   */
  approve?: Approval;
  /** Publish when every threshold is met (default true). */
  publish?: boolean;
}

export interface ChangeReport<T> {
  result: T;
  signed: SignatureMade[];
  /** Content staged by others that was approved and signed. */
  review?: Review;
  published?: PublishReport;
  /** Why a change ready for publication was not published: the online keys are not at hand. */
  publishDeferred?: string;
  status: RoleStatus[];
}

/** The staged changes as a reviewer sees them: each role against its published version. */
export interface StagedChanges {
  digest: string;
  roles: RoleReview[];
}

export class Repository {
  readonly workspace: Workspace;
  readonly #sources: RepositorySources;
  readonly #keystore: Keystore | undefined;
  readonly #lock: LockOptions | undefined;
  #locked = false;

  private constructor(dir: string, options: RepositoryOptions) {
    this.workspace = new Workspace(dir);
    this.#sources = new RepositorySources(this.workspace, options.store ?? new DirectoryStore(this.workspace.files, PUBLIC), options.now ?? (() => new Date()));
    this.#keystore = options.keystore;
    this.#lock = options.lock;
  }

  static open(dir: string, options: RepositoryOptions = {}): Repository {
    const repo = new Repository(dir, options);
    repo.workspace.readConfig();
    return repo;
  }

  /**
   * A new repository: root v1 and an empty targets v1 staged and signed by whichever of their keys
   * are at hand; published with snapshot and timestamp once root and targets meet their thresholds.
   */
  static async init(dir: string, setup: InitOptions, options: RepositoryOptions = {}): Promise<Repository> {
    const roles = { root: setup.root, targets: setup.targets, snapshot: setup.snapshot, timestamp: setup.timestamp };
    for (const role of TOP_LEVEL_ROLES) checkThreshold(roles[role].threshold, new Set(roles[role].keys.map((s) => keyIdOf(s.key))).size, role);
    const repo = new Repository(dir, options);
    repo.workspace.checkEmpty(); // before .keyward/ is made for the lock
    await repo.exclusive(async () => {
      const signers = Object.values(roles).flatMap((s) => s.keys.flatMap((k) => (k.signer ? [k.signer] : [])));
      repo.workspace.create({
        format: REPOSITORY_FORMAT,
        expiry: { ...DEFAULT_EXPIRY, ...setup.expiry },
        keys: Object.fromEntries(signers.map((s) => [s.keyid, KeyUri.of(s.uri)])),
      });
      const state = repo.#state();
      const allKeys = Object.values(roles).flatMap((s) => s.keys.map((k) => k.key));
      const root: RootSigned = {
        _type: 'root',
        spec_version: SPEC_VERSION,
        version: 1,
        expires: state.expiry('root'),
        consistent_snapshot: true,
        keys: Object.fromEntries(allKeys.map((k) => [keyIdOf(k), k])),
        roles: Object.fromEntries(
          TOP_LEVEL_ROLES.map((role) => [
            role,
            roleKeysOf(
              roles[role].keys.map((k) => k.key),
              roles[role].threshold,
            ),
          ]),
        ) as RootSigned['roles'],
      };
      state.save(new Metadata<RootSigned>('root', { signed: root, signatures: [] }));
      state.save(state.newTargets('targets', 1));
      await signStaged(state, signers);
      state.commit();
      if (ready(state)) await new Publisher(state, repo.#keystore).publish();
    });
    return repo;
  }

  get dir(): string {
    return this.workspace.dir;
  }

  /** What a web server serves: public/ (metadata/ and targets/). */
  get publicDir(): string {
    return this.workspace.publicDir;
  }

  #state(): RepositoryState {
    return new RepositoryState(this.#sources);
  }

  /**
   * Runs `work` holding the repository's lock (lock.ts): every change, signature and publication
   * goes through here, or two writers at once would each write back a role without the other's
   * change. Waits for another writer as the options say (30 s), then refuses with TUF_REPO_BUSY.
   * Re-entrant for this object: its own writes inside `work` do not wait for themselves.
   */
  async exclusive<T>(work: () => Promise<T> | T): Promise<T> {
    if (this.#locked) return work();
    const release = await lockRepository(this.workspace.files, this.dir, this.#lock);
    this.#locked = true;
    try {
      if (this.workspace.exists) this.#state().removeLeftovers();
      return await work();
    } finally {
      this.#locked = false;
      release();
    }
  }

  // ── reading ──────────────────────────────────────────────────────────────────────────────────

  /** Root as it will be once staged changes are published. */
  root(): Metadata<RootSigned> {
    return this.#state().root();
  }

  /** A targets role as it will be once staged changes are published. */
  targets(role: string): Metadata<TargetsSigned> | undefined {
    return this.#state().targets(role);
  }

  targetsRoles(): string[] {
    return this.#state().targetsRoles();
  }

  /** The role a target belongs in: where the delegations lead its path (hash bins included). */
  responsibleRole(path: string): string {
    return this.#state().responsibleRole(path);
  }

  /** Per role: version, expiry, staged or published, who signed, who is missing, thresholds met. */
  status(): RoleStatus[] {
    return status(this.#state());
  }

  stagedRoles(): string[] {
    return this.#state().stagedRoles();
  }

  hasStagedChanges(): boolean {
    return this.stagedRoles().length > 0;
  }

  /** The staged changes for review, each role against what is published, and their digest (for --expect). */
  stagedChanges(): StagedChanges {
    const state = this.#state();
    return {
      digest: stagedDigest(state),
      roles: stagedInOrder(state).map((metadata) => ({
        role: metadata.role,
        version: metadata.signed.version,
        changes: changesOf(state.published(metadata.role)?.signed, metadata.signed),
      })),
    };
  }

  /** The recorded URIs of the keys that may sign `role` (read from repo.json: file-borne). */
  keyUris(role: string): KeyUri[] {
    const state = this.#state();
    const entry = isTopLevel(role) ? state.root().signed.roles[role as TopLevelRole] : state.delegationOf(role).entry;
    const uris = this.workspace.readConfig().keys;
    return entry.keyids.flatMap((id) => (uris[id] ? [uris[id]] : []));
  }

  // ── writing ──────────────────────────────────────────────────────────────────────────────────

  /**
   * A change, all or nothing: `edit` is made on a draft; content staged by others that the signers
   * would sign is shown to `approve`; the signers sign; then target files, staged roles and the
   * URIs of the signers' keys are written; and the change is published when every threshold is met
   * (unless told not to). A failure before the writing leaves every file as it was.
   */
  async change<T>(request: ChangeRequest<T>): Promise<ChangeReport<T | undefined>> {
    return this.exclusive(async () => {
      const state = this.#state();
      const signers = request.signers ?? [];
      if (!request.edit && !state.stagedRoles().length)
        throw keywardError('TUF_NOTHING_STAGED', `${this.dir} has no staged changes to sign`, { hint: 'keyward trust repo status shows the repository' });
      const digest = stagedDigest(state); // of what others staged, before this change is made
      const edits = new RepositoryEdits(state);
      const result = request.edit?.(edits);
      const review = signers.length ? this.#review(state, request, digest) : undefined;
      if (review) {
        if (!request.approve)
          throw keywardError('TUF_UNREVIEWED', `${this.dir} holds staged changes made by others; they are signed only once reviewed`, {
            hint: 'keyward trust repo status shows them and their digest',
          });
        await request.approve(review);
      }
      const signed = await signStaged(state, signers, request.roles);
      const idle = signers.find((s) => !signed.some((d) => d.keyid === s.keyid));
      if (idle) {
        const which = request.roles ? `role "${request.roles.join('", "')}"` : `the staged roles (${state.stagedRoles().join(', ')})`;
        throw keywardError('TUF_KEY_NOT_IN_ROLE', `${idle.uri} is not a key of ${which}; nothing was changed`, {
          hint: "keyward trust repo status shows the roles' keys",
        });
      }
      // A target file no metadata names yet harms no one; metadata naming a missing file would.
      for (const upload of edits.uploads) this.#sources.store.writeTarget(upload.path, upload.sha256, upload.bytes);
      state.commit();
      this.#remember([...signers, ...(request.remember ?? [])]);
      const report: ChangeReport<T | undefined> = { result, signed, review, status: [] };
      if (request.publish !== false && ready(state)) {
        try {
          report.published = await new Publisher(state, this.#keystore).publish();
        } catch (error) {
          if (!(error instanceof UnavailableError)) throw error;
          report.publishDeferred = error.message;
        }
      }
      report.status = status(state);
      return report;
    });
  }

  /**
   * What the signers would sign that they did not make: each staged role they may sign, against
   * the same change made with that role as published (the other staged roles, a staged delegation
   * say, are what the change builds on). Undefined when nothing was staged by others.
   */
  #review<T>(state: RepositoryState, request: ChangeRequest<T>, digest: string): Review | undefined {
    if (this.workspace.stagedRoles().length === 0) return undefined;
    const keyids = new Set(request.signers!.map((s) => s.keyid));
    const signed = stagedInOrder(state).filter(
      (metadata) =>
        (!request.roles || request.roles.includes(metadata.role)) &&
        requirements(state, metadata.role, metadata).some((r) => [...r.signed, ...r.missing].some((k) => keyids.has(k.keyid))),
    );
    const unseen = new Set(signed.map((m) => m.role));
    let seen = new RepositoryState(this.#sources, { unseen });
    try {
      request.edit?.(new RepositoryEdits(seen));
    } catch {
      // The change builds on what others staged in these very roles: all of it is shown.
      seen = new RepositoryState(this.#sources, { unseen });
    }
    const roles: RoleReview[] = [];
    for (const metadata of signed) {
      const base = seen.staged(metadata.role) ?? seen.published(metadata.role);
      const changes = changesOf(base?.signed, metadata.signed);
      if (changes.length) roles.push({ role: metadata.role, version: metadata.signed.version, changes });
    }
    return roles.length ? { digest, roles } : undefined;
  }

  /** Remembers where keys live, so that later commands can open them by key id. */
  #remember(signers: TufSigner[]): void {
    const config = this.workspace.readConfig();
    const fresh = signers.filter((s) => config.keys[s.keyid]?.text !== s.uri);
    if (!fresh.length) return;
    for (const signer of fresh) config.keys[signer.keyid] = KeyUri.of(signer.uri);
    this.workspace.writeConfig(config);
  }

  /** Publishes the staged changes (refused while a threshold is unmet), with a new snapshot and timestamp. */
  async publish(): Promise<PublishReport> {
    return this.exclusive(() => new Publisher(this.#state(), this.#keystore).publish());
  }

  /**
   * What a cron job runs: publishes staged changes whose thresholds are met, otherwise signs a new
   * timestamp (and a new snapshot when asked, or when the current one is past half its life).
   */
  async refresh(options: { snapshot?: boolean } = {}): Promise<PublishReport> {
    return this.exclusive(() => {
      const state = this.#state();
      const publisher = new Publisher(state, this.#keystore);
      return ready(state) ? publisher.publish() : publisher.refresh(options);
    });
  }

  /**
   * Drops staged changes, with the signatures collected for them: all of them, or those of `roles`
   * (refused, before anything is dropped, for a role with nothing staged). A staged role that can
   * no longer be reached (its delegation was staged in a role dropped here) goes too. Returns the
   * roles dropped.
   */
  async discard(roles?: string[]): Promise<string[]> {
    return this.exclusive(() => {
      const state = this.#state();
      const staged = state.stagedRoles();
      if (staged.length === 0)
        throw keywardError('TUF_NOTHING_STAGED', `${this.dir} has no staged changes to discard`, { hint: 'keyward trust repo status shows the repository' });
      const unstaged = (roles ?? []).filter((role) => !staged.includes(role));
      if (unstaged.length)
        throw keywardError('TUF_NOTHING_STAGED', `nothing is staged for ${unstaged.map((r) => `"${r}"`).join(', ')}; staged: ${staged.join(', ')}`, {
          hint: 'name staged roles, or none to discard every staged change',
        });
      const dropped = roles ? [...new Set(roles)] : staged;
      for (const role of dropped) state.unstage(role);
      dropped.push(...state.unstageUnreachable());
      state.commit();
      return dropped;
    });
  }

  /** Moves a repository made by an earlier Keyward to today's layout (workspace.ts); false when it already is. */
  static async upgrade(dir: string, options: RepositoryOptions = {}): Promise<boolean> {
    const repo = new Repository(dir, options);
    return repo.exclusive(() => repo.workspace.upgrade());
  }
}
