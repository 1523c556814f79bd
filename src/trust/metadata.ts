/**
 * The signed envelope every TUF role shares (spec §4.3 "Object format"): `signed` + `signatures`,
 * the common fields (`_type`, `spec_version`, `version`, `expires`), threshold verification, and
 * the small shape checks each role module uses. Metadata stays the parsed JSON object itself, typed:
 * fields other writers add are kept and signed over, and nothing is copied per entry.
 */
import { canonicalBytes } from './canonical-json.js';
import { parseJsonExact } from './exact-json.js';
import { TrustError } from './errors.js';
import { keyIdOf, verifySignature, type TufKey } from './keys.js';

export const TOP_LEVEL_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number];

/** The spec version Keyward writes; it reads any 1.x. */
export const SPEC_VERSION = '1.0.31';

/** What the signed part of every role has, in every dialect (Notary writes no spec_version). */
export interface CommonSigned {
  _type: string;
  version: number;
  expires: string;
  [field: string]: unknown;
}

export interface Signed extends CommonSigned {
  spec_version: string;
}

export interface Signature {
  keyid: string;
  sig: string;
  [field: string]: unknown;
}

export interface Envelope<T extends CommonSigned> {
  signed: T;
  signatures: Signature[];
  [field: string]: unknown;
}

/** Who may sign a role: keys by id and how many of them must. */
export interface RoleKeys {
  keyids: string[];
  threshold: number;
  [field: string]: unknown;
}

// ── shape checks ───────────────────────────────────────────────────────────────────────────────

export type Json = Record<string, unknown>;

export function malformed(role: string, reason: string): TrustError {
  return new TrustError(role, 'malformed', reason);
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object(value: unknown, role: string, path: string): Json {
  if (!isObject(value)) throw malformed(role, `${path} must be an object`);
  return value;
}

export function string(value: unknown, role: string, path: string): string {
  if (typeof value !== 'string') throw malformed(role, `${path} must be a string`);
  return value;
}

/**
 * An integer field. Beyond 2^53 a spec integer is a `bigint` (exact-json.ts), in metadata parsed with
 * `exactIntegers`; the types say `number`, as the writer never makes such numbers: client code
 * compares them (mixed `<`, `===` are exact, as a value has one representation) and never adds.
 */
export function integer(value: unknown, role: string, path: string, min: number): number {
  const problem = integerProblem(value, min);
  if (problem) throw malformed(role, `${path}${problem}`);
  return value as number;
}

/*
 * The …Problem checks say what is wrong as the end of a sentence that starts with where (" must be
 * …", ".sha256 must be …"), or undefined. A role with thousands of entries (targets) names an entry
 * only when something is wrong with it: making every entry's path up front cost more than the checks.
 */

export function integerProblem(value: unknown, min: number): string | undefined {
  const ok = typeof value === 'bigint' ? value >= min : typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
  return ok ? undefined : ` must be an integer ≥ ${min}`;
}

export function array(value: unknown, role: string, path: string): unknown[] {
  if (!Array.isArray(value)) throw malformed(role, `${path} must be an array`);
  return value;
}

export function uniqueStrings(value: unknown, role: string, path: string): string[] {
  const list = array(value, role, path);
  for (const item of list) string(item, role, `${path}[]`);
  if (new Set(list).size !== list.length) throw malformed(role, `${path} lists an entry twice`);
  return list as string[];
}

const HEX = /^[0-9a-f]+$/;

/** A `hashes` object: algorithm → non-empty lowercase hex digest. */
export function hashes(value: unknown, role: string, path: string): Record<string, string> {
  const problem = hashesProblem(value);
  if (problem) throw malformed(role, `${path}${problem}`);
  return value as Record<string, string>;
}

export function hashesProblem(value: unknown): string | undefined {
  if (!isObject(value)) return ' must be an object';
  let count = 0;
  for (const algorithm in value) {
    const digest = value[algorithm];
    if (typeof digest !== 'string' || !HEX.test(digest)) return `.${algorithm} must be a hex digest`;
    count++;
  }
  return count === 0 ? ' must name at least one hash' : undefined;
}

/** A map of key id → key, each id checked against the key it names (spec §4.4 KEYID). */
export function keyMap(value: unknown, role: string, path: string): Record<string, TufKey> {
  const keys = object(value, role, path);
  for (const keyid in keys) {
    const key = object(keys[keyid], role, `${path}.${keyid}`);
    string(key.keytype, role, `${path}.${keyid}.keytype`);
    string(key.scheme, role, `${path}.${keyid}.scheme`);
    // `keyval` of a key type Keyward does not know may lack `public`: such a key just never verifies.
    object(key.keyval, role, `${path}.${keyid}.keyval`);
    const computed = keyIdOf(key as TufKey);
    if (computed !== keyid) throw new TrustError(role, 'key-id', `key "${keyid}" in ${path} has the key id ${computed}`);
  }
  return keys as Record<string, TufKey>;
}

/** A role's keys and threshold; threshold 0 would disable verification, so it is refused. */
export function roleKeys(value: unknown, role: string, path: string): RoleKeys {
  const entry = object(value, role, path);
  uniqueStrings(entry.keyids, role, `${path}.keyids`);
  if (entry.threshold === 0) throw new TrustError(role, 'threshold', `${path} has threshold 0, which would accept metadata without any signature`);
  integer(entry.threshold, role, `${path}.threshold`, 1);
  return entry as RoleKeys;
}

const EXPIRES = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Milliseconds since the epoch of an `expires` value (spec §4.2: YYYY-MM-DDTHH:MM:SSZ). */
export function expiryTime(expires: string): number {
  return Date.parse(expires);
}

/** Formats a moment as TUF writes it: whole seconds, UTC. */
export function formatExpiry(time: Date | number): string {
  return new Date(Math.floor(new Date(time).getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The fields every role has, checked. */
export function checkCommon(signed: Json, role: string, type: string): void {
  if (signed._type !== type) throw new TrustError(role, 'type', `expected _type "${type}", found ${JSON.stringify(signed._type)}`);
  const spec = string(signed.spec_version, role, 'spec_version');
  const parts = spec.split('.');
  if (parts.length < 2 || parts.length > 3 || parts[0] !== '1' || !parts.every((p) => /^\d+$/.test(p))) {
    throw new TrustError(role, 'unsupported', `spec_version "${spec}" is not a TUF 1.x version`);
  }
  integer(signed.version, role, 'version', 1);
  const expires = string(signed.expires, role, 'expires');
  if (!EXPIRES.test(expires) || Number.isNaN(Date.parse(expires))) throw malformed(role, `expires "${expires}" is not YYYY-MM-DDTHH:MM:SSZ`);
}

// ── the envelope ───────────────────────────────────────────────────────────────────────────────

/** A dialect's check of one signature (dialect.ts `verify`). */
export type SignatureCheck<K> = (key: K, data: Uint8Array, signature: Signature) => boolean;

const tufSignatureCheck: SignatureCheck<TufKey> = (key, data, signature) => verifySignature(key, data, signature.sig);

const ENVELOPE_START = Buffer.from('{"signed":', 'utf8');
// eslint-disable-next-line no-control-regex -- exactly what it looks for
const CONTROL_CHARACTER = /[\x00-\x1f]/;

export class Metadata<T extends CommonSigned> {
  /** Role name, for messages ("root", "targets", "bins-3f"). */
  readonly role: string;
  readonly envelope: Envelope<T>;
  #canonical: Buffer | undefined;

  constructor(role: string, envelope: Envelope<T>) {
    this.role = role;
    this.envelope = envelope;
  }

  get signed(): T {
    return this.envelope.signed;
  }

  get signatures(): Signature[] {
    return this.envelope.signatures;
  }

  /** The bytes signatures cover: canonical JSON of `signed`, computed once. */
  get canonical(): Buffer {
    this.#canonical ??= canonicalBytes(this.envelope.signed);
    return this.#canonical;
  }

  /** After changing `signed`: forget the canonical form and every signature over the old content. */
  changed(): void {
    this.#canonical = undefined;
    this.envelope.signatures = [];
  }

  /**
   * The key ids among `keys` allowed by `role` whose signatures verify; each key counts once. `verify`
   * is the dialect's check of one signature (TUF 1.0's unless told).
   */
  verifiedKeyIds<K>(keys: Record<string, K>, role: RoleKeys, verify: SignatureCheck<K> = tufSignatureCheck as SignatureCheck<unknown>): Set<string> {
    const allowed = new Set(role.keyids);
    const verified = new Set<string>();
    for (const signature of this.envelope.signatures) {
      const { keyid } = signature;
      if (verified.has(keyid) || !allowed.has(keyid) || !Object.hasOwn(keys, keyid)) continue;
      if (verify(keys[keyid]!, this.canonical, signature)) verified.add(keyid);
    }
    return verified;
  }

  /**
   * Spec §5.3.4 and alike: a threshold of distinct keys of `role` signed this. `by` names whose keys
   * they are, for the message.
   */
  verifyThreshold<K>(keys: Record<string, K>, role: RoleKeys, by = `the ${this.role} keys`, verify?: SignatureCheck<K>): void {
    const verified = this.verifiedKeyIds(keys, role, verify);
    if (verified.size < role.threshold) {
      throw new TrustError(this.role, 'threshold', `${verified.size} valid signature${verified.size === 1 ? '' : 's'} from ${by}, ${role.threshold} required`);
    }
  }

  isExpired(now: number): boolean {
    return now >= expiryTime(this.envelope.signed.expires);
  }

  /**
   * The file as written, as Notary writes it too: `{"signed":<the bytes signed>,"signatures":[…]}`,
   * so that a reader's canonical form is its native `JSON.stringify` (canonical-json.ts). Where the
   * canonical form is not JSON (it leaves control characters in strings unescaped), plain JSON.
   */
  toBytes(): Buffer {
    const signed = this.canonical;
    if (CONTROL_CHARACTER.test(signed.toString('latin1'))) return Buffer.from(JSON.stringify(this.envelope), 'utf8');
    return Buffer.concat([ENVELOPE_START, signed, Buffer.from(`,"signatures":${JSON.stringify(this.envelope.signatures)}}`, 'utf8')]);
  }
}

export interface ParseOptions {
  /** Integers beyond 2^53 read exactly, as bigints (the client); otherwise refused (the writer). */
  exactIntegers?: boolean;
}

/**
 * The envelope of one metadata file, in any dialect: JSON, `signed` an object, `signatures` a list
 * naming each key once. The caller checks the role's fields.
 */
export function parseEnvelope<T extends CommonSigned>(bytes: Uint8Array, role: string, options: ParseOptions = {}): Metadata<T> {
  let value: unknown;
  try {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    value = options.exactIntegers ? parseJsonExact(text) : JSON.parse(text);
  } catch (cause) {
    throw new TrustError(role, 'malformed', `not valid JSON (${(cause as Error).message})`, { cause });
  }
  const envelope = object(value, role, 'the file');
  object(envelope.signed, role, 'signed');
  const signers = new Set<string>();
  for (const signature of array(envelope.signatures, role, 'signatures')) {
    const entry = object(signature, role, 'signatures[]');
    const keyid = string(entry.keyid, role, 'signatures[].keyid');
    string(entry.sig, role, 'signatures[].sig');
    // Spec §4.3: one signature per key id; a repeated one would count twice in a careless client.
    if (signers.has(keyid)) throw malformed(role, `signatures lists key ${keyid} more than once`);
    signers.add(keyid);
  }
  return new Metadata<T>(role, envelope as unknown as Envelope<T>);
}

/** Computes the canonical form now (verification needs it next): refuses floats anywhere in `signed`. */
export function checkCanonical(metadata: Metadata<CommonSigned>): void {
  try {
    void metadata.canonical;
  } catch (cause) {
    throw new TrustError(metadata.role, 'malformed', `signed cannot be put in canonical form: ${(cause as Error).message}`, { cause });
  }
}

/** Parses one metadata file: JSON, the envelope's shape, then the role's own checks. */
export function parseMetadata<T extends Signed>(
  bytes: Uint8Array,
  role: string,
  type: string,
  check: (signed: Json, role: string) => void,
  options: ParseOptions = {},
): Metadata<T> {
  const metadata = parseEnvelope<T>(bytes, role, options);
  const signed = metadata.signed as Json;
  checkCommon(signed, role, type);
  checkCanonical(metadata);
  check(signed, role);
  return metadata;
}
