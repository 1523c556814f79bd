/**
 * TUF key objects (spec §4.2 "Key objects"): the public half of a signing key as metadata carries
 * it, its key id (computed, never read from the document on trust), signature verification, and the
 * TUF form of a Keystore key so that any device can sign metadata.
 */
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ALGORITHMS, algorithmOfKey, type KeyAlgorithm } from '../crypto/algorithms.js';
import type { SignOptions } from '../keystore/backend.js';
import { toPem } from '../x509/pem.js';
import { canonicalBytes } from './canonical-json.js';

export interface TufKey {
  keytype: string;
  scheme: string;
  keyval: { public: string; [field: string]: unknown };
  /** Fields other writers add (tuf-on-ci's key owner, say): kept, and part of the key id. */
  [field: string]: unknown;
}

/** The schemes Keyward signs and verifies, with the key type each goes with. */
export const SCHEMES = {
  ed25519: { keytypes: ['ed25519'], hash: null, curve: undefined },
  'ecdsa-sha2-nistp256': { keytypes: ['ecdsa', 'ecdsa-sha2-nistp256'], hash: 'sha256', curve: 'prime256v1' },
  'ecdsa-sha2-nistp384': { keytypes: ['ecdsa', 'ecdsa-sha2-nistp384'], hash: 'sha384', curve: 'secp384r1' },
  'rsassa-pss-sha256': { keytypes: ['rsa'], hash: 'sha256', curve: undefined },
} as const;
export type Scheme = keyof typeof SCHEMES;

function isScheme(value: string): value is Scheme {
  return Object.hasOwn(SCHEMES, value);
}

/** Spec §4.2: the hex SHA-256 of the canonical form of the whole key object. */
export function keyIdOf(key: TufKey): string {
  return createHash('sha256').update(canonicalBytes(key)).digest('hex');
}

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), before the 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The TUF key for a SubjectPublicKeyInfo (what `KeyHandle.publicKey()` returns). */
export function tufKeyFromSpki(spki: Uint8Array): TufKey {
  const der = Buffer.from(spki);
  const algorithm = algorithmOfKey(createPublicKey({ key: der, format: 'der', type: 'spki' }));
  switch (algorithm) {
    case 'ed25519':
      return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: der.subarray(ED25519_SPKI_PREFIX.length).toString('hex') } };
    case 'p256':
      return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: toPem('PUBLIC KEY', der) } };
    case 'p384':
      return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp384', keyval: { public: toPem('PUBLIC KEY', der) } };
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: toPem('PUBLIC KEY', der) } };
    default:
      throw new Error('unreachable: the keystore returned a key type Keyward does not support');
  }
}

/** How a Keystore key must sign for its TUF scheme: DER ECDSA, PSS with a 32-byte salt. */
export function signOptionsFor(algorithm: KeyAlgorithm): SignOptions {
  const info = ALGORITHMS[algorithm];
  if (info.family === 'ec') return { format: 'der', hash: info.defaultHash };
  if (info.family === 'rsa') return { padding: 'pss', hash: 'SHA-256', saltLength: 32 };
  return {};
}

const publicKeys = new WeakMap<TufKey, KeyObject | null>();

/** The node:crypto key for a TUF key, or null when it is malformed or of an unsupported scheme. */
function publicKeyOf(key: TufKey): KeyObject | null {
  let cached = publicKeys.get(key);
  if (cached !== undefined) return cached;
  cached = null;
  const scheme = key.scheme;
  const value = key.keyval?.public;
  if (typeof scheme === 'string' && isScheme(scheme) && typeof value === 'string' && (SCHEMES[scheme].keytypes as readonly string[]).includes(key.keytype)) {
    try {
      if (scheme === 'ed25519') {
        if (/^[0-9a-f]{64}$/i.test(value)) {
          cached = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(value, 'hex')]), format: 'der', type: 'spki' });
        }
      } else if (value.startsWith('-----BEGIN PUBLIC KEY-----')) {
        const candidate = createPublicKey(value);
        const expected = SCHEMES[scheme];
        const fits =
          expected.curve === undefined
            ? candidate.asymmetricKeyType === 'rsa' && (candidate.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
            : candidate.asymmetricKeyType === 'ec' && candidate.asymmetricKeyDetails?.namedCurve === expected.curve;
        if (fits) cached = candidate;
      }
    } catch {
      cached = null;
    }
  }
  publicKeys.set(key, cached);
  return cached;
}

/** Checks one hex signature over `data`; false for anything that is not a valid signature by `key`. */
export function verifySignature(key: TufKey, data: Uint8Array, signatureHex: string): boolean {
  const publicKey = publicKeyOf(key);
  if (!publicKey || typeof signatureHex !== 'string' || signatureHex.length === 0 || signatureHex.length % 2 || !/^[0-9a-fA-F]+$/.test(signatureHex))
    return false;
  const signature = Buffer.from(signatureHex, 'hex');
  const scheme = SCHEMES[key.scheme as Scheme];
  try {
    if (scheme.curve !== undefined) return verify(scheme.hash, data, { key: publicKey, dsaEncoding: 'der' }, signature);
    if (scheme.hash === null) return verify(null, data, publicKey, signature);
    return verify(scheme.hash, data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
  } catch {
    return false;
  }
}
