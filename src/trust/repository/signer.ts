/**
 * A Keystore key as a TUF signer: its TUF key object, its key id, and signatures made inside the
 * device in the form TUF 1.0 wants (hex; DER for ECDSA as securesystemslib writes; PSS for RSA).
 */
import { keywardError } from '../../errors.js';
import type { KeyHandle } from '../../keystore/backend.js';
import { keyIdOf, signOptionsFor, tufKeyFromSpki, type TufKey } from '../keys.js';
import type { Metadata, Signed } from '../metadata.js';

export interface TufSigner {
  keyid: string;
  key: TufKey;
  /** Where the key lives, for people ("pkcs11:token=…", "yubikey:serial=…;slot=9c"). */
  uri: string;
  /** A hex signature over `data`, made in the device. */
  sign(data: Uint8Array): Promise<string>;
}

export async function signerOf(handle: KeyHandle): Promise<TufSigner> {
  const algorithm = handle.info.algorithm;
  if (!algorithm) throw keywardError('TUF_KEY_TYPE', `${handle.info.uri} holds a key type Keyward cannot sign TUF metadata with`);
  const key = tufKeyFromSpki(await handle.publicKey());
  const options = signOptionsFor(algorithm);
  return {
    keyid: keyIdOf(key),
    key,
    uri: handle.info.uri,
    sign: async (data) => Buffer.from(await handle.sign(data, options)).toString('hex'),
  };
}

/** Adds (or replaces) `signer`'s signature on `metadata`. */
export async function signMetadata<T extends Signed>(metadata: Metadata<T>, signer: TufSigner): Promise<void> {
  const sig = await signer.sign(metadata.canonical);
  const others = metadata.signatures.filter((s) => s.keyid !== signer.keyid);
  metadata.envelope.signatures = [...others, { keyid: signer.keyid, sig }];
}
