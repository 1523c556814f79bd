/**
 * A dialect of TUF: how its metadata carries keys and signatures. One model, one canonical JSON and
 * one signer serve them all; what differs is written here. TUF 1.0 (python-tuf, tuf-js, go-tuf):
 * hex signatures, DER ECDSA, key ids over the whole TUF key. Notary v1 (Docker Content Trust,
 * notary/dialect.ts) is the second: base64 signatures with a `method`, raw r‖s ECDSA, `ecdsa-x509`
 * keys, key ids over `{keytype, keyval}`.
 */
import type { HashName } from '../crypto/algorithms.js';
import { keyIdOf, tufKeyFromSpki, verifySignature, type TufKey } from './keys.js';
import type { Signature } from './metadata.js';

/** What a signer hands a dialect: the device's signature (ECDSA in DER, RSA-PSS, Ed25519) and key. */
export interface RawSignature {
  signature: Uint8Array;
  /** The signing key's SubjectPublicKeyInfo. */
  key: Uint8Array;
}

/** A public key as any dialect's metadata carries it: a type and a public value, at least. */
export interface MetadataKey {
  keytype: string;
  keyval: { public: string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface Dialect<K extends MetadataKey = TufKey> {
  readonly name: string;
  /** The key as this dialect's metadata carries it. */
  keyOf(spki: Uint8Array): K;
  /** The key id this dialect gives a key. */
  keyId(key: K): string;
  /** The hash the device must sign with, when not the key's usual one (Notary: SHA-256 for every ECDSA key). */
  hashFor?(key: K): HashName | undefined;
  /** A `signatures[]` entry for a signature made by the device. */
  signature(keyid: string, raw: RawSignature): Signature;
  /** Whether `signature` is `key`'s over `data`; false for anything else (malformed, another key, a scheme it does not know). */
  verify(key: K, data: Uint8Array, signature: Signature): boolean;
}

export const TUF_1_0: Dialect = {
  name: 'TUF 1.0',
  keyOf: tufKeyFromSpki,
  keyId: keyIdOf,
  signature: (keyid, raw) => ({ keyid, sig: Buffer.from(raw.signature).toString('hex') }),
  verify: (key, data, signature) => verifySignature(key, data, signature.sig),
};
