/**
 * A dialect of TUF: how its metadata carries keys and signatures. One model, one canonical JSON and
 * one signer serve them all; what differs is written here. TUF 1.0 (python-tuf, tuf-js, go-tuf):
 * hex signatures, DER ECDSA, key ids over the whole TUF key. Notary v1 (Docker Content Trust) will be
 * the second: base64 signatures with a `method`, raw r‖s ECDSA, `ecdsa-x509` keys, key ids over
 * `{keytype, keyval}`.
 */
import type { HashName } from '../crypto/algorithms.js';
import { keyIdOf, tufKeyFromSpki, type TufKey } from './keys.js';
import type { Signature } from './metadata.js';

/** What a signer hands a dialect: the device's signature (ECDSA in DER, RSA-PSS, Ed25519) and key. */
export interface RawSignature {
  signature: Uint8Array;
  /** The signing key's SubjectPublicKeyInfo. */
  key: Uint8Array;
}

export interface Dialect {
  readonly name: string;
  /** The key as this dialect's metadata carries it. */
  keyOf(spki: Uint8Array): TufKey;
  /** The key id this dialect gives a key. */
  keyId(key: TufKey): string;
  /** The hash the device must sign with, when not the key's usual one (Notary: SHA-256 for every ECDSA key). */
  hashFor?(key: TufKey): HashName | undefined;
  /** A `signatures[]` entry for a signature made by the device. */
  signature(keyid: string, raw: RawSignature): Signature;
}

export const TUF_1_0: Dialect = {
  name: 'TUF 1.0',
  keyOf: tufKeyFromSpki,
  keyId: keyIdOf,
  signature: (keyid, raw) => ({ keyid, sig: Buffer.from(raw.signature).toString('hex') }),
};
