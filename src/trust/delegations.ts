/**
 * Delegations (spec §4.6, DELEGATIONS): a targets role hands paths to other roles, by shell-style
 * path patterns or by prefixes of the SHA-256 of the path (hash bins, for very large repositories),
 * or, in place of a list of roles, to 2^bit_length hash bins at once ("succinct hash bin
 * delegations", TAP 15, as python-tuf's and tuf-js's SuccinctRoles write and read them).
 */
import { createHash } from 'node:crypto';
import { TrustError } from './errors.js';
import type { TufKey } from './keys.js';
import { array, keyMap, malformed, object, roleKeys, string, TOP_LEVEL_ROLES, uniqueStrings, type RoleKeys } from './metadata.js';

export interface DelegatedRole extends RoleKeys {
  name: string;
  terminating: boolean;
  paths?: string[];
  path_hash_prefixes?: string[];
}

/**
 * TAP 15: bins `${name_prefix}-${hex}`, the hex of the first `bit_length` bits of the SHA-256 of a
 * target path, zero-padded to the width of 2^bit_length - 1; every bin signed by these keys.
 */
export interface SuccinctRoles extends RoleKeys {
  bit_length: number;
  name_prefix: string;
}

/** Exactly one of `roles` and `succinct_roles` is present; readers go through `rolesFor` and `delegatedRole`. */
export interface Delegations {
  keys: Record<string, TufKey>;
  roles?: DelegatedRole[];
  succinct_roles?: SuccinctRoles;
  [field: string]: unknown;
}

/** Role names become file names and URL parts: no top-level names, nothing that reads as a path. */
export function checkRoleName(name: string, role: string): void {
  if ((TOP_LEVEL_ROLES as readonly string[]).includes(name)) throw malformed(role, `a delegated role cannot be named "${name}"`);
  if (name.length === 0) throw malformed(role, 'a delegated role has an empty name');
}

export function checkDelegations(value: unknown, role: string): Delegations {
  const delegations = object(value, role, 'delegations');
  keyMap(delegations.keys, role, 'delegations.keys');
  if ((delegations.roles === undefined) === (delegations.succinct_roles === undefined)) {
    throw malformed(
      role,
      delegations.roles === undefined
        ? 'delegations has neither roles nor succinct_roles'
        : 'delegations has both roles and succinct_roles; exactly one is allowed',
    );
  }
  if (delegations.succinct_roles !== undefined) {
    const succinct = roleKeys(delegations.succinct_roles, role, 'delegations.succinct_roles') as SuccinctRoles;
    const bits = succinct.bit_length;
    if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 32) {
      throw malformed(role, `delegations.succinct_roles.bit_length must be an integer from 1 to 32, not ${JSON.stringify(bits) ?? 'absent'}`);
    }
    string(succinct.name_prefix, role, 'delegations.succinct_roles.name_prefix');
    return delegations as Delegations;
  }
  const names = new Set<string>();
  for (const item of array(delegations.roles, role, 'delegations.roles')) {
    const entry = roleKeys(item, role, 'delegations.roles[]') as DelegatedRole;
    const name = string(entry.name, role, 'delegations.roles[].name');
    checkRoleName(name, role);
    if (names.has(name)) throw malformed(role, `delegations.roles names "${name}" twice`);
    names.add(name);
    if (typeof entry.terminating !== 'boolean') throw malformed(role, `delegation "${name}": terminating must be true or false`);
    if (entry.paths !== undefined && entry.path_hash_prefixes !== undefined)
      throw malformed(role, `delegation "${name}" has both paths and path_hash_prefixes`);
    if (entry.paths !== undefined) uniqueStrings(entry.paths, role, `delegation "${name}".paths`);
    if (entry.path_hash_prefixes !== undefined) {
      for (const prefix of uniqueStrings(entry.path_hash_prefixes, role, `delegation "${name}".path_hash_prefixes`)) {
        if (!/^[0-9a-f]*$/.test(prefix)) throw malformed(role, `delegation "${name}": "${prefix}" is not a hex prefix`);
      }
    }
  }
  return delegations as Delegations;
}

const patterns = new Map<string, RegExp | null>();

/** One path segment of a PATHPATTERN as a regular expression: `*`, `?`, `[…]`, `[!…]` as fnmatch has them. */
function segmentRegex(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', segment[i + 1] === '!' ? i + 3 : i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += negate ? `[^/${body.replace(/[\\\]^]/g, '\\$&')}]` : `[${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return out;
}

/**
 * Spec §4.6 PATHPATTERN: shell-style wildcards, and a separator is never matched by a wildcard:
 * pattern and path must have as many segments, each matching.
 */
export function pathMatches(pattern: string, path: string): boolean {
  let regex = patterns.get(pattern);
  if (regex === undefined) {
    try {
      regex = new RegExp(`^${pattern.split('/').map(segmentRegex).join('/')}$`, 's');
    } catch {
      // A character class Python's fnmatch also cannot use ([z-a]): it matches nothing there, so here.
      regex = null;
    }
    if (patterns.size > 10_000) patterns.clear();
    patterns.set(pattern, regex);
  }
  return regex !== null && regex.test(path);
}

export function pathHash(path: string): string {
  return createHash('sha256').update(path, 'utf8').digest('hex');
}

/** Whether a delegation covers a target path (by pattern, or by hash prefix). */
export function delegates(role: DelegatedRole, path: string): boolean {
  if (role.paths) return role.paths.some((pattern) => pathMatches(pattern, path));
  if (role.path_hash_prefixes) {
    const digest = pathHash(path);
    return role.path_hash_prefixes.some((prefix) => digest.startsWith(prefix));
  }
  return false;
}

/** Hex digits of a bin suffix: those of the last bin, 2^bit_length - 1. */
function suffixLength(bits: number): number {
  return (2 ** bits - 1).toString(16).length;
}

/** TAP 15: the bin of `path`, from the first `bit_length` bits of its SHA-256. */
export function succinctBin(succinct: SuccinctRoles, path: string): string {
  const first = createHash('sha256').update(path, 'utf8').digest().readUInt32BE(0);
  const bin = Math.floor(first / 2 ** (32 - succinct.bit_length));
  return `${succinct.name_prefix}-${bin.toString(16).padStart(suffixLength(succinct.bit_length), '0')}`;
}

/** Whether `name` is one of the bins of a succinct delegation (python-tuf's `is_delegated_role`). */
function isBin(succinct: SuccinctRoles, name: string): boolean {
  const prefix = `${succinct.name_prefix}-`;
  if (!name.startsWith(prefix)) return false;
  const suffix = name.slice(prefix.length);
  return suffix.length === suffixLength(succinct.bit_length) && /^[0-9a-f]+$/.test(suffix) && parseInt(suffix, 16) < 2 ** succinct.bit_length;
}

/**
 * The delegations that cover `path`, in order of priority (spec §4.6: order of appearance). Of a
 * succinct delegation, the one bin of the path, terminating: no other role could describe it (as
 * python-tuf and tuf-js search it).
 */
export function rolesFor(delegations: Delegations, path: string): DelegatedRole[] {
  const succinct = delegations.succinct_roles;
  if (succinct) return [{ name: succinctBin(succinct, path), keyids: succinct.keyids, threshold: succinct.threshold, terminating: true }];
  return (delegations.roles ?? []).filter((role) => delegates(role, path));
}

/** Those of `names` that are bins of a succinct delegation, each once. */
export function succinctBins(succinct: SuccinctRoles, names: Iterable<string>): string[] {
  return [...new Set(names)].filter((name) => isBin(succinct, name));
}

/** The keys and threshold `delegations` gives the role `name`, if it delegates to it. */
export function delegatedRole(delegations: Delegations, name: string): RoleKeys | undefined {
  const succinct = delegations.succinct_roles;
  if (succinct) return isBin(succinct, name) ? succinct : undefined;
  return delegations.roles?.find((role) => role.name === name);
}

// ── hash bins ─────────────────────────────────────────────────────────────────────────────────

export interface HashBin {
  name: string;
  prefixes: string[];
}

/**
 * `count` bins (a power of two, 2 to 65,536) splitting the SHA-256 space of target paths evenly: each
 * bin a run of hex prefixes, named by its first and last prefix ("bins-00-0f").
 */
export function hashBins(count: number, namePrefix = 'bins'): HashBin[] {
  if (!Number.isInteger(count) || count < 2 || count > 65_536 || (count & (count - 1)) !== 0) {
    throw new TrustError('targets', 'malformed', `${count} hash bins: the number of bins must be a power of two from 2 to 65536`);
  }
  const prefixLength = Math.ceil(Math.log2(count) / 4);
  const perBin = 16 ** prefixLength / count;
  const hex = (n: number) => n.toString(16).padStart(prefixLength, '0');
  return Array.from({ length: count }, (_, bin) => {
    const prefixes = Array.from({ length: perBin }, (_, i) => hex(bin * perBin + i));
    const name = perBin === 1 ? `${namePrefix}-${prefixes[0]}` : `${namePrefix}-${prefixes[0]}-${prefixes[perBin - 1]}`;
    return { name, prefixes };
  });
}

/** The bin a path falls in. */
export function binOf(bins: HashBin[], path: string): HashBin {
  const digest = pathHash(path);
  const prefixLength = bins[0]!.prefixes[0]!.length;
  const index = Math.floor(parseInt(digest.slice(0, prefixLength), 16) / bins[0]!.prefixes.length);
  return bins[index]!;
}
