/**
 * Notary's metadata (notary 0.7, tuf/data): the four roles and delegated targets roles, as Notary
 * writes them: `_type` capitalised ("Root"), no spec_version, `expires` in RFC 3339 with up to
 * nanoseconds, files described by length and base64 `sha256` and `sha512`, snapshot and timestamp
 * entries without versions under bare role names ("targets/releases"), delegation `paths` as
 * prefixes. The envelope, canonical JSON and shape checks are the TUF model's (../metadata.ts).
 */
import { createHash } from 'node:crypto';
import { TrustError } from '../errors.js';
import {
  array,
  checkCanonical,
  formatExpiry,
  integer,
  malformed,
  Metadata,
  object,
  parseEnvelope,
  roleKeys,
  string,
  uniqueStrings,
  type CommonSigned,
  type Json,
  type RoleKeys,
  type TopLevelRole,
} from '../metadata.js';
import { notaryKeyId, type NotaryKey } from './dialect.js';

/** A file as snapshot and timestamp describe it, and a target as targets does. */
export interface FileMeta {
  length: number;
  hashes: Record<string, string>;
  custom?: unknown;
  [field: string]: unknown;
}

export interface NotaryRootSigned extends CommonSigned {
  _type: 'Root';
  consistent_snapshot: boolean;
  keys: Record<string, NotaryKey>;
  roles: Record<TopLevelRole, RoleKeys>;
}

export interface NotaryDelegation extends RoleKeys {
  name: string;
  /** Prefixes of the target names the role may sign ("" is every name). */
  paths?: string[];
  path_hash_prefixes?: string[];
}

export interface NotaryDelegations {
  keys: Record<string, NotaryKey>;
  roles: NotaryDelegation[];
  [field: string]: unknown;
}

export interface NotaryTargetsSigned extends CommonSigned {
  _type: 'Targets';
  targets: Record<string, FileMeta>;
  delegations: NotaryDelegations;
}

export interface NotarySnapshotSigned extends CommonSigned {
  _type: 'Snapshot';
  meta: Record<string, FileMeta>;
}

export interface NotaryTimestampSigned extends CommonSigned {
  _type: 'Timestamp';
  meta: { snapshot: FileMeta } & Record<string, FileMeta>;
}

export type NotarySigned = NotaryRootSigned | NotaryTargetsSigned | NotarySnapshotSigned | NotaryTimestampSigned;

/** The `_type` of a role: delegated roles ("targets/releases") are Targets. */
export function typeOf(role: string): NotarySigned['_type'] {
  if (role === 'root') return 'Root';
  if (role === 'snapshot') return 'Snapshot';
  if (role === 'timestamp') return 'Timestamp';
  return 'Targets';
}

/** Whether `role` is a delegated targets role: "targets/<name>", with no empty, "." or ".." part. */
export function isDelegatedRole(role: string): boolean {
  const parts = role.split('/');
  return parts.length > 1 && parts[0] === 'targets' && parts.slice(1).every((p) => /^[A-Za-z0-9_.-]+$/.test(p) && p !== '.' && p !== '..');
}

// RFC 3339 as Go writes time.Time: up to nanoseconds, Z or an offset.
const EXPIRES = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of a Notary `expires` (nanoseconds cut to milliseconds), or NaN. */
export function notaryExpiryTime(expires: string): number {
  const match = EXPIRES.exec(expires);
  if (!match) return Number.NaN;
  return Date.parse(`${match[1]}${(match[2] ?? '').slice(0, 4)}${match[3]}`);
}

/**
 * `expires` as Keyward writes it: whole seconds, UTC. Go's RFC3339Nano gives the same text when it
 * writes that time back (it drops a zero fraction), so a server that re-encodes sees the bytes signed.
 */
export const formatNotaryExpiry = formatExpiry;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGEST_BYTES: Record<string, number> = { sha256: 32, sha512: 64 };

function fileMeta(value: unknown, role: string, path: string): FileMeta {
  const entry = object(value, role, path);
  integer(entry.length, role, `${path}.length`, 0);
  const hashes = object(entry.hashes, role, `${path}.hashes`);
  let count = 0;
  for (const algorithm in hashes) {
    const digest = hashes[algorithm];
    if (typeof digest !== 'string' || !BASE64.test(digest)) throw malformed(role, `${path}.hashes.${algorithm} must be a base64 digest`);
    // A hex digest is base64 too, of the wrong length: TUF 1.0 metadata served as Notary's says so here.
    const bytes = DIGEST_BYTES[algorithm];
    if (bytes !== undefined && Buffer.from(digest, 'base64').length !== bytes)
      throw malformed(role, `${path}.hashes.${algorithm} is not a ${bytes}-byte digest in base64`);
    count++;
  }
  if (count === 0) throw malformed(role, `${path}.hashes must name at least one hash`);
  return entry as FileMeta;
}

function fileMetaMap(value: unknown, role: string, path: string): Record<string, FileMeta> {
  const map = object(value, role, path);
  for (const name in map) fileMeta(map[name], role, `${path}["${name}"]`);
  return map as Record<string, FileMeta>;
}

/** key id → key, each id checked against the key it names (a forged id would let one key count as two). */
function keyMap(value: unknown, role: string, path: string): Record<string, NotaryKey> {
  const keys = object(value, role, path);
  for (const keyid in keys) {
    const key = object(keys[keyid], role, `${path}.${keyid}`);
    string(key.keytype, role, `${path}.${keyid}.keytype`);
    string(object(key.keyval, role, `${path}.${keyid}.keyval`).public, role, `${path}.${keyid}.keyval.public`);
    const computed = notaryKeyId(key as NotaryKey);
    if (computed !== keyid) throw new TrustError(role, 'key-id', `key "${keyid}" in ${path} has the key id ${computed}`);
  }
  return keys as Record<string, NotaryKey>;
}

function checkRoot(signed: Json, role: string): void {
  keyMap(signed.keys, role, 'keys');
  const roles = object(signed.roles, role, 'roles');
  for (const name of ['root', 'targets', 'snapshot', 'timestamp']) {
    if (!Object.hasOwn(roles, name)) throw malformed(role, `roles has no "${name}" entry`);
    roleKeys(roles[name], role, `roles.${name}`);
  }
}

function checkTargets(signed: Json, role: string): void {
  fileMetaMap(signed.targets, role, 'targets');
  // Notary writes `delegations` always; an absent one is read as none.
  signed.delegations ??= { keys: {}, roles: [] };
  const delegations = object(signed.delegations, role, 'delegations');
  keyMap(delegations.keys, role, 'delegations.keys');
  const names = new Set<string>();
  for (const item of array(delegations.roles, role, 'delegations.roles')) {
    const entry = roleKeys(item, role, 'delegations.roles[]') as NotaryDelegation;
    const name = string(entry.name, role, 'delegations.roles[].name');
    // Notary: a role delegates only to its own children ("targets" to "targets/releases").
    if (!isDelegatedRole(name) || name.slice(0, name.lastIndexOf('/')) !== role)
      throw malformed(role, `delegation "${name}" is not a role "${role}" may delegate to ("${role}/<name>")`);
    if (names.has(name)) throw malformed(role, `delegations.roles names "${name}" twice`);
    names.add(name);
    if (entry.paths !== undefined) uniqueStrings(entry.paths, role, `delegation "${name}".paths`);
    if (entry.path_hash_prefixes !== undefined) uniqueStrings(entry.path_hash_prefixes, role, `delegation "${name}".path_hash_prefixes`);
  }
}

function checkSnapshot(signed: Json, role: string): void {
  fileMetaMap(signed.meta, role, 'meta');
}

function checkTimestamp(signed: Json, role: string): void {
  const meta = fileMetaMap(signed.meta, role, 'meta');
  if (!Object.hasOwn(meta, 'snapshot')) throw malformed(role, 'meta must describe snapshot');
}

const CHECKS: Record<NotarySigned['_type'], (signed: Json, role: string) => void> = {
  Root: checkRoot,
  Targets: checkTargets,
  Snapshot: checkSnapshot,
  Timestamp: checkTimestamp,
};

/** Parses one of Notary's metadata files for `role` ("root", "targets/releases" …): shape, types, key ids. */
export function parseNotary<T extends NotarySigned>(bytes: Uint8Array, role: string): Metadata<T> {
  try {
    const metadata = parseEnvelope<T>(bytes, role);
    const signed = metadata.signed as Json;
    const type = typeOf(role);
    if (signed._type !== type) throw new TrustError(role, 'type', `expected _type "${type}", found ${JSON.stringify(signed._type)}`);
    integer(signed.version, role, 'version', 1);
    const expires = string(signed.expires, role, 'expires');
    if (Number.isNaN(notaryExpiryTime(expires))) throw malformed(role, `expires "${expires}" is not an RFC 3339 time`);
    for (const signature of metadata.signatures) string(signature.method, role, 'signatures[].method');
    checkCanonical(metadata);
    CHECKS[type](signed, role);
    return metadata;
  } catch (error) {
    if (error instanceof TrustError && error.failure === 'malformed')
      throw new TrustError(error.role, 'malformed', error.message.slice(error.role.length + 2), {
        cause: error.cause,
        hint: 'the file is not Notary metadata as notary-server serves it: the server, or the connection to it, is broken',
      });
    throw error;
  }
}

/** A file's entry in snapshot or timestamp: its length and base64 SHA-256 and SHA-512, as Notary writes them. */
export function fileMetaOf(bytes: Uint8Array): FileMeta {
  return {
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('base64'), sha512: createHash('sha512').update(bytes).digest('base64') },
  };
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/**
 * Checks bytes against the length and the hashes an entry gives: every hash Keyward computes must
 * match, and at least one must be there (an entry with only unknown hashes vouches for nothing).
 */
export function checkFileMeta(bytes: Uint8Array, expected: FileMeta, role: string, what: string): void {
  if (bytes.length !== expected.length)
    throw new TrustError(role, 'length', `${what} is ${bytes.length} bytes; the signed metadata says ${expected.length}`, {
      hint: 'the server serves another file than the one signed: a broken or hostile server',
    });
  let checked = 0;
  for (const algorithm in expected.hashes) {
    const name = HASHES[algorithm];
    if (!name) continue;
    const digest = createHash(name).update(bytes).digest('base64');
    if (digest !== expected.hashes[algorithm])
      throw new TrustError(role, 'hash-mismatch', `${what} has ${algorithm} ${digest}; the signed metadata says ${expected.hashes[algorithm]}`);
    checked++;
  }
  if (checked === 0)
    throw new TrustError(role, 'unsupported', `${what} is described only by hashes Keyward does not compute (${Object.keys(expected.hashes).join(', ')})`);
}

/** Whether a delegation's paths (Notary: prefixes) let it sign `name`. */
export function delegationCovers(delegation: NotaryDelegation, name: string): boolean {
  return (delegation.paths ?? []).some((prefix) => name.startsWith(prefix));
}
