/**
 * The key algorithms Keyward generates and signs with, named as on the command line. One table, so
 * that the PKCS#11 and PIV drivers, the keystore and the WebCrypto bridge agree on sizes and hashes.
 */
import type { KeyObject } from 'node:crypto';
import { keywardError } from '../errors.js';

export type KeyAlgorithm = 'p256' | 'p384' | 'rsa2048' | 'rsa3072' | 'rsa4096' | 'ed25519';
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';
export type RsaPadding = 'pkcs1' | 'pss';

interface EcInfo {
  family: 'ec';
  curve: 'P-256' | 'P-384';
  /** DER of the named curve's OBJECT IDENTIFIER (CKA_EC_PARAMS). */
  curveOidDer: string;
  /** Bytes in one coordinate / one of r, s. */
  fieldBytes: number;
}
interface RsaInfo {
  family: 'rsa';
  bits: 2048 | 3072 | 4096;
}
interface EdInfo {
  family: 'ed25519';
}
export type AlgorithmInfo = (EcInfo | RsaInfo | EdInfo) & {
  name: KeyAlgorithm;
  /** A person's name for it: "ECDSA P-256". */
  title: string;
  /** The hash used when the caller names none. */
  defaultHash: HashName;
  /** Signature length in bytes in raw form (r‖s for ECDSA). */
  signatureBytes: number;
};

export const ALGORITHMS: Readonly<Record<KeyAlgorithm, AlgorithmInfo>> = {
  p256: {
    name: 'p256',
    title: 'ECDSA P-256',
    family: 'ec',
    curve: 'P-256',
    curveOidDer: '06082a8648ce3d030107',
    fieldBytes: 32,
    defaultHash: 'SHA-256',
    signatureBytes: 64,
  },
  p384: {
    name: 'p384',
    title: 'ECDSA P-384',
    family: 'ec',
    curve: 'P-384',
    curveOidDer: '06052b81040022',
    fieldBytes: 48,
    defaultHash: 'SHA-384',
    signatureBytes: 96,
  },
  rsa2048: { name: 'rsa2048', title: 'RSA 2048', family: 'rsa', bits: 2048, defaultHash: 'SHA-256', signatureBytes: 256 },
  rsa3072: { name: 'rsa3072', title: 'RSA 3072', family: 'rsa', bits: 3072, defaultHash: 'SHA-256', signatureBytes: 384 },
  rsa4096: { name: 'rsa4096', title: 'RSA 4096', family: 'rsa', bits: 4096, defaultHash: 'SHA-256', signatureBytes: 512 },
  ed25519: { name: 'ed25519', title: 'Ed25519', family: 'ed25519', defaultHash: 'SHA-512', signatureBytes: 64 },
};

export const KEY_ALGORITHMS = Object.keys(ALGORITHMS) as KeyAlgorithm[];

export function isKeyAlgorithm(value: string): value is KeyAlgorithm {
  return Object.hasOwn(ALGORITHMS, value);
}

export function algorithmInfo(name: string): AlgorithmInfo {
  if (!isKeyAlgorithm(name)) {
    throw keywardError('ALGORITHM_UNSUPPORTED', `unsupported key algorithm "${name}"`, {
      hint: `choose one of ${KEY_ALGORITHMS.join(', ')}`,
    });
  }
  return ALGORITHMS[name];
}

/** The algorithm of an EC key from its curve's OID (DER hex), if we support that curve. */
export function ecAlgorithmByOid(curveOidDer: string): KeyAlgorithm | undefined {
  return KEY_ALGORITHMS.find((a) => {
    const info = ALGORITHMS[a];
    return info.family === 'ec' && info.curveOidDer === curveOidDer;
  });
}

export function rsaAlgorithmByBits(bits: number): KeyAlgorithm | undefined {
  return KEY_ALGORITHMS.find((a) => {
    const info = ALGORITHMS[a];
    return info.family === 'rsa' && info.bits === bits;
  });
}

/** OpenSSL's names for the curves Keyward supports, as node:crypto reports them. */
const OPENSSL_CURVES: Readonly<Record<string, KeyAlgorithm>> = { prime256v1: 'p256', secp384r1: 'p384' };

/** The algorithm of a node:crypto key, if it is one Keyward supports. */
export function algorithmOfKey(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return details?.namedCurve ? OPENSSL_CURVES[details.namedCurve] : undefined;
    case 'rsa':
      return details?.modulusLength ? rsaAlgorithmByBits(details.modulusLength) : undefined;
    case 'ed25519':
      return 'ed25519';
    default:
      return undefined;
  }
}

export const HASH_BYTES: Readonly<Record<HashName, number>> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

export function parseHashName(value: string): HashName {
  const normal = value.toUpperCase().replace(/^SHA-?/, 'SHA-');
  if (normal === 'SHA-256' || normal === 'SHA-384' || normal === 'SHA-512') return normal;
  throw keywardError('HASH_UNSUPPORTED', `unsupported hash "${value}"`, { hint: 'use sha256, sha384 or sha512' });
}

/** node:crypto's name for a hash ("sha256"). */
export function nodeHashName(hash: HashName): string {
  return hash.replace('-', '').toLowerCase();
}

/** X.509 signature algorithm identifiers (RFC 5758, RFC 4055, RFC 8410); Ed25519 hashes inside. */
const SIGNATURE_ALGORITHMS: ReadonlyArray<{ oid: string; family: AlgorithmInfo['family']; hash: HashName | null }> = [
  { oid: '1.2.840.10045.4.3.2', family: 'ec', hash: 'SHA-256' }, // ecdsa-with-SHA256
  { oid: '1.2.840.10045.4.3.3', family: 'ec', hash: 'SHA-384' },
  { oid: '1.2.840.10045.4.3.4', family: 'ec', hash: 'SHA-512' },
  { oid: '1.2.840.113549.1.1.11', family: 'rsa', hash: 'SHA-256' }, // sha256WithRSAEncryption
  { oid: '1.2.840.113549.1.1.12', family: 'rsa', hash: 'SHA-384' },
  { oid: '1.2.840.113549.1.1.13', family: 'rsa', hash: 'SHA-512' },
  { oid: '1.3.101.112', family: 'ed25519', hash: null }, // Ed25519
];

/** The identifier of a signature by a key of `algorithm` with its default hash. */
export function signatureAlgorithmOid(algorithm: KeyAlgorithm): string {
  const info = ALGORITHMS[algorithm];
  const hash = info.family === 'ed25519' ? null : info.defaultHash;
  return SIGNATURE_ALGORITHMS.find((a) => a.family === info.family && a.hash === hash)!.oid;
}

/** What a signature algorithm identifier means, if it is one Keyward accepts. */
export function signatureAlgorithmByOid(oid: string): { family: AlgorithmInfo['family']; hash: HashName | null } | undefined {
  return SIGNATURE_ALGORITHMS.find((a) => a.oid === oid);
}
