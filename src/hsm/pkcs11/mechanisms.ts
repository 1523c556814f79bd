/**
 * Choosing the signing mechanism a token offers. Prefer the combined hash-and-sign mechanisms
 * (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256); where the token lacks them (SoftHSM has CKM_ECDSA but not
 * CKM_ECDSA_SHA256) hash on the host and use the raw mechanism.
 */
import pkcs11js from 'pkcs11js';
import { ALGORITHMS, HASH_BYTES, type HashName, type KeyAlgorithm, type RsaPadding } from '../../crypto/algorithms.js';
import { keywardError, UsageError } from '../../errors.js';
import { CKM_EDDSA, mechanismName } from './constants.js';

export interface SignRequest {
  hash: HashName;
  padding?: RsaPadding;
  /** PSS salt length in bytes; the hash's length by default. */
  saltLength?: number;
}

/** How to sign: the mechanism, and what the host must do to the data first. */
export interface SignPlan {
  mechanism: pkcs11js.Mechanism;
  /** Hash the data on the host before C_Sign. */
  hostHash?: HashName;
  /** Prefix the host hash with its DigestInfo (raw CKM_RSA_PKCS). */
  digestInfo?: boolean;
  /** Bytes the signature takes (raw r‖s for ECDSA). */
  signatureBytes: number;
}

const COMBINED = {
  ecdsa: { 'SHA-256': pkcs11js.CKM_ECDSA_SHA256, 'SHA-384': pkcs11js.CKM_ECDSA_SHA384, 'SHA-512': pkcs11js.CKM_ECDSA_SHA512 },
  pkcs1: { 'SHA-256': pkcs11js.CKM_SHA256_RSA_PKCS, 'SHA-384': pkcs11js.CKM_SHA384_RSA_PKCS, 'SHA-512': pkcs11js.CKM_SHA512_RSA_PKCS },
  pss: { 'SHA-256': pkcs11js.CKM_SHA256_RSA_PKCS_PSS, 'SHA-384': pkcs11js.CKM_SHA384_RSA_PKCS_PSS, 'SHA-512': pkcs11js.CKM_SHA512_RSA_PKCS_PSS },
} as const;
const HASH_MECHANISM = { 'SHA-256': pkcs11js.CKM_SHA256, 'SHA-384': pkcs11js.CKM_SHA384, 'SHA-512': pkcs11js.CKM_SHA512 } as const;
const MGF1 = { 'SHA-256': pkcs11js.CKG_MGF1_SHA256, 'SHA-384': pkcs11js.CKG_MGF1_SHA384, 'SHA-512': pkcs11js.CKG_MGF1_SHA512 } as const;

function unsupported(tokenLabel: string, what: string, mechanisms: number[]): UsageError {
  return keywardError('MECHANISM_UNSUPPORTED', `token "${tokenLabel}" cannot ${what}`, {
    hint: `it offers none of ${mechanisms.map(mechanismName).join(', ')}`,
  });
}

export function planSignature(algorithm: KeyAlgorithm, request: SignRequest, available: Set<number>, tokenLabel: string): SignPlan {
  const info = ALGORITHMS[algorithm];
  const { hash } = request;
  switch (info.family) {
    case 'ed25519':
      if (!available.has(CKM_EDDSA)) throw unsupported(tokenLabel, 'sign with Ed25519', [CKM_EDDSA]);
      return { mechanism: { mechanism: CKM_EDDSA }, signatureBytes: info.signatureBytes };
    case 'ec': {
      const combined = COMBINED.ecdsa[hash];
      if (available.has(combined)) return { mechanism: { mechanism: combined }, signatureBytes: info.signatureBytes };
      if (!available.has(pkcs11js.CKM_ECDSA)) throw unsupported(tokenLabel, 'sign with ECDSA', [combined, pkcs11js.CKM_ECDSA]);
      return { mechanism: { mechanism: pkcs11js.CKM_ECDSA }, hostHash: hash, signatureBytes: info.signatureBytes };
    }
    case 'rsa': {
      const padding = request.padding ?? 'pkcs1';
      if (padding === 'pkcs1') {
        const combined = COMBINED.pkcs1[hash];
        if (available.has(combined)) return { mechanism: { mechanism: combined }, signatureBytes: info.signatureBytes };
        if (!available.has(pkcs11js.CKM_RSA_PKCS)) throw unsupported(tokenLabel, 'sign with RSA PKCS#1 v1.5', [combined, pkcs11js.CKM_RSA_PKCS]);
        return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS }, hostHash: hash, digestInfo: true, signatureBytes: info.signatureBytes };
      }
      const saltLen = request.saltLength ?? HASH_BYTES[hash];
      const parameter = { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECHANISM[hash], mgf: MGF1[hash], saltLen };
      const combined = COMBINED.pss[hash];
      if (available.has(combined)) return { mechanism: { mechanism: combined, parameter }, signatureBytes: info.signatureBytes };
      if (!available.has(pkcs11js.CKM_RSA_PKCS_PSS)) throw unsupported(tokenLabel, 'sign with RSA-PSS', [combined, pkcs11js.CKM_RSA_PKCS_PSS]);
      return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter }, hostHash: hash, signatureBytes: info.signatureBytes };
    }
  }
}
