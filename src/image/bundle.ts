/**
 * Sigstore bundles for files ("blobs"): the v0.3 bundle of a message signature, with a public key
 * named by a hint as its verification material and no transparency log entry (no Rekor, no
 * Fulcio: the key is in hardware, and whoever verifies holds its public key). The `sigstore`
 * libraries verify it when told to expect no log entry and no timestamp; `keyward blob verify`
 * checks the same things: the file's SHA-256, then the signature with the key given.
 */
import { createHash } from 'node:crypto';
import { keywardError } from '../errors.js';
import { isObject, jsonObject } from './json.js';
import { signatureVerifies, type VerifierKey } from './keys.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Bundles of every version Keyward reads (the message signature is the same in each). */
const BUNDLE_MEDIA_TYPES = /^application\/vnd\.dev\.sigstore\.bundle(?:\+json;version=0\.[123]|\.v0\.3\+json)$/;
/** Far more than a bundle without a log entry (about 300 bytes); one with entries and a chain stays under it. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export interface BlobBundle {
  mediaType: string;
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: unknown[] };
  messageSignature: { messageDigest: { algorithm: 'SHA2_256'; digest: string }; signature: string };
}

/** The bundle of a signature over a file's bytes; `keyId` (hex SHA-256 of the key) is the hint. */
export function makeBundle(data: Uint8Array, signature: Uint8Array, keyId: string): BlobBundle {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyId }, tlogEntries: [] },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(data).digest('base64') },
      signature: Buffer.from(signature).toString('base64'),
    },
  };
}

export interface BlobVerification {
  sha256: string;
  keyId: string;
  subject: string | null;
  /** The key the bundle names (its hint), if any. */
  hint: string | null;
  /** Transparency log entries the bundle carries, which Keyward does not check. */
  tlogEntriesIgnored: number;
}

/** Checks that `bundle` (its bytes) signs `data` with `key`; says what is wrong otherwise. */
export function verifyBundle(data: Uint8Array, bundle: Uint8Array, key: VerifierKey): BlobVerification {
  const invalid = (why: string) =>
    keywardError('BUNDLE_INVALID', `not a Sigstore bundle of a message signature: ${why}`, {
      hint: 'keyward blob sign FILE --key URI --bundle OUT.json makes one',
    });
  if (bundle.length > MAX_BUNDLE_BYTES) throw invalid(`it is ${bundle.length} bytes, more than ${MAX_BUNDLE_BYTES}`);
  const json = jsonObject(bundle);
  if (!json) throw invalid('not a JSON object');
  if (typeof json.mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.test(json.mediaType)) throw invalid(`its mediaType is ${JSON.stringify(json.mediaType)}`);
  const message = json.messageSignature;
  if (!isObject(message))
    throw invalid(json.dsseEnvelope ? 'it holds a DSSE envelope (an attestation), not a message signature' : 'it has no messageSignature');
  const digest = message.messageDigest;
  if (!isObject(digest) || digest.algorithm !== 'SHA2_256' || typeof digest.digest !== 'string') throw invalid('its messageDigest is not a SHA2_256 digest');
  if (typeof message.signature !== 'string' || message.signature.length === 0) throw invalid('it has no signature');
  const material = isObject(json.verificationMaterial) ? json.verificationMaterial : {};
  const hint = isObject(material.publicKey) && typeof material.publicKey.hint === 'string' ? material.publicKey.hint : null;
  const sha256 = createHash('sha256').update(data).digest();
  if (!sha256.equals(Buffer.from(digest.digest, 'base64'))) {
    throw keywardError(
      'BUNDLE_DIGEST_MISMATCH',
      `the file is not the one the bundle signs: its SHA-256 is ${sha256.toString('hex')}, the bundle's ${Buffer.from(digest.digest, 'base64').toString('hex')}`,
      {
        hint: 'the file changed after it was signed, or the bundle is of another file',
      },
    );
  }
  if (!signatureVerifies(key.key, data, Buffer.from(message.signature, 'base64'))) {
    throw keywardError(
      'BUNDLE_SIGNATURE_INVALID',
      `the bundle's signature does not verify with the key given (${key.id.slice(0, 16)}…)${hint && hint !== key.id ? `; the bundle names key ${hint}` : ''}`,
      {
        hint: 'the file was signed by another key, or the bundle was altered',
      },
    );
  }
  return {
    sha256: sha256.toString('hex'),
    keyId: key.id,
    subject: key.subject ?? null,
    hint,
    tlogEntriesIgnored: Array.isArray(material.tlogEntries) ? material.tlogEntries.length : 0,
  };
}
