/**
 * Converting signatures between the forms their producers and consumers use: PKCS#11 CKM_ECDSA and
 * WebCrypto give raw r‖s; X.509, OpenSSL and PIV cards use DER `ECDSA-Sig-Value`. RSA DigestInfo
 * prefixes for hosts that pad PKCS#1 v1.5 themselves.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { keywardError } from '../errors.js';
import { nodeHashName, type HashName } from './algorithms.js';
import { contentsOf, positiveIntegerContents, readTagged, TAG } from './der.js';

function unsignedBigEndian(value: Uint8Array, size: number): Uint8Array {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const trimmed = value.subarray(start);
  if (trimmed.length > size) {
    throw keywardError('SIGNATURE_MALFORMED', `an ECDSA signature component is ${trimmed.length} bytes, more than ${size}`);
  }
  const out = new Uint8Array(size);
  out.set(trimmed, size - trimmed.length);
  return out;
}

/**
 * Raw r‖s → DER ECDSA-Sig-Value (SEC 1 §C.5: SEQUENCE { r INTEGER, s INTEGER }). Encoded directly:
 * it is on every signature's path, and a schema library costs 13 µs here against 0.3 µs.
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length % 2 !== 0 || raw.length === 0) {
    throw keywardError('SIGNATURE_MALFORMED', `a raw ECDSA signature has an even length; got ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  const r = positiveIntegerContents(raw.subarray(0, half));
  const s = positiveIntegerContents(raw.subarray(half));
  // One allocation: at most 2 × (2 + 67) bytes for P-521, so a short or one-byte long length.
  const body = 2 + r.length + 2 + s.length;
  const header = body < 0x80 ? [TAG.SEQUENCE, body] : [TAG.SEQUENCE, 0x81, body];
  const out = new Uint8Array(header.length + body);
  out.set(header, 0);
  let offset = header.length;
  for (const integer of [r, s]) {
    out[offset++] = TAG.INTEGER;
    out[offset++] = integer.length;
    out.set(integer, offset);
    offset += integer.length;
  }
  return out;
}

/**
 * DER ECDSA-Sig-Value → raw r‖s with each half padded to `fieldBytes`. Decoded directly, like the
 * encoder above: it is on every PIV signature's path, and an ASN.1 library costs a start-up of tens
 * of milliseconds to a command that signs once.
 */
export function ecdsaDerToRaw(der: Uint8Array, fieldBytes: number): Uint8Array {
  const malformed = (why: string) => keywardError('SIGNATURE_MALFORMED', `the device returned an ECDSA signature that is not valid DER (${why})`);
  const sequence = readTagged(der, 0, TAG.SEQUENCE);
  if (!sequence || sequence.end !== der.length) throw malformed('not one SEQUENCE');
  const r = readTagged(der, sequence.start, TAG.INTEGER, sequence.end);
  const s = r && readTagged(der, r.end, TAG.INTEGER, sequence.end);
  if (!r || !s || s.end !== sequence.end) throw malformed('not two INTEGERs');
  const out = new Uint8Array(fieldBytes * 2);
  for (const [index, integer] of [r, s].entries()) {
    const value = contentsOf(der, integer);
    if (value.length === 0 || (value[0]! & 0x80) !== 0) throw malformed('an INTEGER that is empty or negative');
    out.set(unsignedBigEndian(value, fieldBytes), index * fieldBytes);
  }
  return out;
}

// RFC 8017 §9.2 note 1: DER of DigestInfo up to the digest itself.
const DIGEST_INFO_PREFIX: Readonly<Record<HashName, string>> = {
  'SHA-256': '3031300d060960864801650304020105000420',
  'SHA-384': '3041300d060960864801650304020205000430',
  'SHA-512': '3051300d060960864801650304020305000440',
};

/** DigestInfo ‖ hash, the input of a raw CKM_RSA_PKCS or PIV RSA signature. */
export function digestInfo(hash: HashName, digest: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[hash], 'hex'), digest]);
}

/** node:crypto's one-shot hash (Node 20.12+): half the cost of a Hash object, on every PKCS#11 signature's path. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;

export function hashBytes(hash: HashName, data: Uint8Array): Buffer {
  return oneShot ? oneShot(nodeHashName(hash), data, 'buffer') : createHash(nodeHashName(hash)).update(data).digest();
}
