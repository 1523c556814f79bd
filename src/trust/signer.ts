/**
 * Signers. A `Signer` is a key in a device that signs bytes and knows no metadata format; a
 * `MetadataSigner` is one adapted to a dialect (dialect.ts): its key and key id as that dialect
 * writes them, and its signatures as `signatures[]` entries. Nothing is signed outside a device.
 */
import type { HashName, KeyAlgorithm } from '../crypto/algorithms.js';
import { keywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import { TUF_1_0, type Dialect, type MetadataKey, type RawSignature } from './dialect.js';
import { signOptionsFor, type TufKey } from './keys.js';
import type { Metadata, Signature, Signed } from './metadata.js';

export interface Signer {
  /** Where the key lives, for people ("pkcs11:token=…", "yubikey:serial=…;slot=9c"). */
  readonly uri: string;
  readonly algorithm: KeyAlgorithm;
  /** Its SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  /** Signs `data` in the device: ECDSA in DER, RSA with PSS, Ed25519 as it is; `hash` overrides the key's usual one. */
  sign(data: Uint8Array, hash?: HashName): Promise<RawSignature>;
}

/** A Keystore key as a signer. */
export async function deviceSigner(handle: KeyHandle): Promise<Signer> {
  const algorithm = handle.info.algorithm;
  if (!algorithm) throw keywardError('TUF_KEY_TYPE', `${handle.info.uri} holds a key type Keyward cannot sign metadata with`);
  const publicKey = await handle.publicKey();
  const options = signOptionsFor(algorithm);
  return {
    uri: handle.info.uri,
    algorithm,
    publicKey,
    sign: async (data, hash) => ({ signature: await handle.sign(data, hash ? { ...options, hash } : options), key: publicKey }),
  };
}

export interface TufSigner<K extends MetadataKey = TufKey> {
  keyid: string;
  key: K;
  uri: string;
  /** A `signatures[]` entry over `data`, made in the device. */
  sign(data: Uint8Array): Promise<Signature>;
}

/** A signer as a dialect writes it (TUF 1.0 unless told). */
export function metadataSigner(signer: Signer): TufSigner;
export function metadataSigner<K extends MetadataKey>(signer: Signer, dialect: Dialect<K>): TufSigner<K>;
export function metadataSigner(signer: Signer, dialect: Dialect<MetadataKey> = TUF_1_0): TufSigner<MetadataKey> {
  const key = dialect.keyOf(signer.publicKey);
  const keyid = dialect.keyId(key);
  const hash = dialect.hashFor?.(key);
  return { keyid, key, uri: signer.uri, sign: async (data) => dialect.signature(keyid, await signer.sign(data, hash)) };
}

/** A Keystore key as a TUF 1.0 metadata signer. */
export async function signerOf(handle: KeyHandle): Promise<TufSigner> {
  return metadataSigner(await deviceSigner(handle));
}

/** Adds (or replaces) `signer`'s signature on `metadata`. */
export async function signMetadata(
  metadata: Pick<Metadata<Signed>, 'canonical'> & { envelope: { signatures: Signature[] } },
  signer: TufSigner<MetadataKey>,
): Promise<void> {
  const signature = await signer.sign(metadata.canonical);
  metadata.envelope.signatures = [...metadata.envelope.signatures.filter((s) => s.keyid !== signer.keyid), signature];
}
