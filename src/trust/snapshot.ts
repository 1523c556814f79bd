/**
 * The snapshot role (spec §4.5 "File formats: snapshot.json"): the version (and optionally length and
 * hashes) of every targets metadata file, so that a client sees one consistent repository. The
 * METAFILES entries it defines are shared with timestamp.
 */
import { createHash } from 'node:crypto';
import { TrustError } from './errors.js';
import { hashes, integer, object, parseMetadata, type Json, type Metadata, type ParseOptions, type Signed } from './metadata.js';
import { withArticle } from '../words.js';

export interface MetaFile {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
  [field: string]: unknown;
}

export interface SnapshotSigned extends Signed {
  _type: 'snapshot';
  meta: Record<string, MetaFile>;
}

export function checkMetaFiles(value: unknown, role: string): Record<string, MetaFile> {
  const meta = object(value, role, 'meta');
  for (const path in meta) {
    const entry = object(meta[path], role, `meta.${path}`);
    integer(entry.version, role, `meta.${path}.version`, 1);
    if (entry.length !== undefined) integer(entry.length, role, `meta.${path}.length`, 0);
    if (entry.hashes !== undefined) hashes(entry.hashes, role, `meta.${path}.hashes`);
  }
  return meta as Record<string, MetaFile>;
}

export function parseSnapshot(bytes: Uint8Array, options?: ParseOptions): Metadata<SnapshotSigned> {
  return parseMetadata<SnapshotSigned>(bytes, 'snapshot', 'snapshot', (signed: Json, role) => void checkMetaFiles(signed.meta, role), options);
}

/** Node's name for a TUF hash algorithm name, if Keyward computes it. */
const HASH_ALGORITHMS: Record<string, string> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

/**
 * Checks downloaded bytes against the length and every hash a signed entry gives (spec §5.5.2, §5.6.2,
 * §5.7.3). A hash of an algorithm Keyward does not know is refused rather than skipped.
 */
export function checkLengthAndHashes(bytes: Uint8Array, expected: { length?: number; hashes?: Record<string, string> }, role: string, what: string): void {
  if (expected.length !== undefined && bytes.length !== expected.length) {
    // Too long is refused while downloading (the fetcher's limit); what is left here is mostly too short.
    if (bytes.length < expected.length) {
      throw new TrustError(role, 'length', `${what} is ${bytes.length} bytes, shorter than the ${expected.length} the signed metadata says`, {
        hint: 'the download was cut short or the file on the server is truncated: try again, or report the broken mirror',
      });
    }
    throw new TrustError(role, 'length', `${what} is ${bytes.length} bytes, longer than the ${expected.length} the signed metadata says`);
  }
  for (const algorithm in expected.hashes ?? {}) {
    const name = HASH_ALGORITHMS[algorithm];
    if (!name) throw new TrustError(role, 'unsupported', `${what} is described by ${withArticle(`${algorithm} hash`)}, which Keyward does not compute`);
    const digest = createHash(name).update(bytes).digest('hex');
    if (digest !== expected.hashes![algorithm])
      throw new TrustError(role, 'hash-mismatch', `${what} has ${algorithm} ${digest}; the signed metadata says ${expected.hashes![algorithm]}`);
  }
}

/** A METAFILES entry describing `bytes` at `version`, with length and SHA-256 when asked. */
export function metaFileOf(bytes: Uint8Array, version: number, withHashes: boolean): MetaFile {
  return withHashes
    ? { version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } }
    : { version, length: bytes.length };
}
