/**
 * The changes a repository takes: targets, delegations, hash bins, key rotation. Each stages the
 * roles it touches in the state's draft (state.ts); nothing reaches the disk until the change is
 * signed and committed (repository.ts `change`).
 */
import { keywardError } from '../../errors.js';
import { checkRoleName, hashBins as makeHashBins, type Delegations } from '../delegations.js';
import { checkServableRoleName } from '../file-names.js';
import { keyIdOf, type TufKey } from '../keys.js';
import type { RoleKeys, TopLevelRole } from '../metadata.js';
import { checkTargetPath, type TargetFile } from '../targets.js';
import { isTopLevel, type RepositoryState } from './state.js';

export function checkThreshold(threshold: number, keys: number, role: string): void {
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw keywardError(
      'TUF_THRESHOLD_INVALID',
      `${role}: threshold ${threshold} refused: a threshold must be at least 1, or metadata would need no signature at all`,
    );
  }
  if (threshold > keys) throw keywardError('TUF_THRESHOLD_INVALID', `${role}: threshold ${threshold} cannot be met by ${keys} key${keys === 1 ? '' : 's'}`);
}

export function roleKeysOf(keys: TufKey[], threshold: number): RoleKeys {
  return { keyids: [...new Set(keys.map(keyIdOf))], threshold };
}

export interface DelegationSpec {
  name: string;
  keys: TufKey[];
  threshold: number;
  terminating?: boolean;
  paths?: string[];
  pathHashPrefixes?: string[];
}

/** A target's file, stored (before the metadata naming it is published) when the change commits. */
export interface TargetUpload {
  path: string;
  sha256: string;
  bytes: Uint8Array;
}

/** A delegator's list of roles, which Keyward edits; succinct hash bins (TAP 15) it reads but does not edit. */
function listOf(delegations: Delegations, role: string): NonNullable<Delegations['roles']> {
  if (!delegations.roles)
    throw keywardError('TUF_DELEGATION_SCOPE', `${role} delegates to succinct hash bins, which Keyward signs and publishes but does not edit`, {
      hint: 'edit its delegations with the tool that made them (python-tuf)',
    });
  return delegations.roles;
}

export class RepositoryEdits {
  readonly #state: RepositoryState;
  /** Target files to store when the change commits. */
  readonly uploads: TargetUpload[] = [];

  constructor(state: RepositoryState) {
    this.#state = state;
  }

  /**
   * Adds or replaces a target (and stores its file, when given); returns the role that now describes
   * it and what it said before.
   */
  addTarget(path: string, target: TargetFile, options: { role?: string; bytes?: Uint8Array } = {}): { role: string; previous: TargetFile | undefined } {
    checkTargetPath(path);
    const role = options.role ?? this.#state.responsibleRole(path);
    if (options.role !== undefined) this.#state.checkDelegated(role, path);
    const metadata = this.#state.stageTargets(role);
    const previous = metadata.signed.targets[path];
    this.#state.edit(metadata, (signed) => void (signed.targets[path] = target));
    if (options.bytes) this.uploads.push({ path, sha256: target.hashes.sha256!, bytes: options.bytes });
    return { role, previous };
  }

  /** Adds many targets to one role in one edit (imports, benchmarks). */
  addTargets(targets: Record<string, TargetFile>, role = 'targets'): void {
    for (const path in targets) {
      checkTargetPath(path);
      if (role !== 'targets') this.#state.checkDelegated(role, path);
    }
    this.#state.edit(this.#state.stageTargets(role), (signed) => Object.assign(signed.targets, targets));
  }

  /**
   * A delegation from `from` to a new role (path patterns or hash prefixes), with its own keys. The
   * role is staged too, empty, to be signed by its own keys: a delegation published without its
   * role's file would leave clients unable to search it (hash bins are made the same way).
   */
  delegate(from: string, role: DelegationSpec): void {
    this.#checkDelegation(from, role);
    this.#state.edit(this.#state.stageTargets(from), (signed) => {
      signed.delegations ??= { keys: {}, roles: [] };
      const list = listOf(signed.delegations, from);
      for (const key of role.keys) signed.delegations.keys[keyIdOf(key)] = key;
      list.push({
        name: role.name,
        ...roleKeysOf(role.keys, role.threshold),
        terminating: role.terminating ?? false,
        ...(role.paths ? { paths: role.paths } : { path_hash_prefixes: role.pathHashPrefixes! }),
      });
    });
    this.#state.stageFreshTargets(role.name);
  }

  #checkDelegation(from: string, role: DelegationSpec): void {
    checkRoleName(role.name, from);
    checkServableRoleName(role.name);
    checkThreshold(role.threshold, new Set(role.keys.map(keyIdOf)).size, role.name);
    const roles = this.#state.targetsRoles();
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
    const { delegator } = this.#state.delegationOf(name);
    this.#state.edit(this.#state.stageTargets(delegator), (signed) => {
      const delegations = signed.delegations!;
      const list = listOf(delegations, delegator).filter((r) => r.name !== name);
      delegations.roles = list;
      const used = new Set(list.flatMap((r) => r.keyids));
      for (const keyid of Object.keys(delegations.keys)) if (!used.has(keyid)) delete delegations.keys[keyid];
    });
    // The role and its own delegates are unreachable now: their staged changes could never be published.
    this.#state.unstageUnreachable();
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
    if (isTopLevel(role)) {
      this.#state.edit(this.#state.stageRoot(), (signed) => {
        apply(signed.roles[role as TopLevelRole], signed.keys);
        const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
        for (const id of Object.keys(signed.keys)) if (!used.has(id)) delete signed.keys[id];
      });
      if (role === 'targets') this.#state.stageTargets('targets');
      return;
    }
    const { delegator } = this.#state.delegationOf(role);
    this.#state.edit(this.#state.stageTargets(delegator), (signed) =>
      apply(
        listOf(signed.delegations!, delegator).find((r) => r.name === role)!,
        signed.delegations!.keys,
      ),
    );
    this.#state.stageTargets(role);
  }
}
