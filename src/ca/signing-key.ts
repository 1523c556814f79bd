/**
 * A CA key as x509 needs it: the keystore handle behind a WebCrypto key pair (set up once, not per
 * certificate), the signing algorithm that fits it, and the subject key identifier of its public key.
 */
import { createHash } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import type { KeyHandle } from '../keystore/keystore.js';
import { hardwareKeyPair, KeywardCrypto } from '../keystore/webcrypto.js';
import { signingAlgorithmFor } from './self-signed.js';

export class SigningKey {
  readonly handle: KeyHandle;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly crypto: KeywardCrypto;
  readonly spki: Uint8Array;
  readonly algorithm: { name: string; hash?: string };

  private constructor(handle: KeyHandle, keys: webcrypto.CryptoKeyPair, spki: Uint8Array, algorithm: { name: string; hash?: string }) {
    this.handle = handle;
    this.keys = keys;
    this.crypto = new KeywardCrypto();
    this.spki = spki;
    this.algorithm = algorithm;
  }

  static async of(handle: KeyHandle): Promise<SigningKey> {
    const algorithm = signingAlgorithmFor(handle); // refuses a key that cannot sign certificates, before anything else
    return new SigningKey(handle, await hardwareKeyPair(handle), await handle.publicKey(), algorithm);
  }

  /** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
  get keyIdentifier(): Buffer {
    return keyIdentifierOf(this.spki);
  }
}

/** The key identifier of an SPKI (RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits). */
export function keyIdentifierOf(spki: Uint8Array | SubjectPublicKeyInfo): Buffer {
  const parsed = spki instanceof SubjectPublicKeyInfo ? spki : AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return createHash('sha1').update(new Uint8Array(parsed.subjectPublicKey)).digest();
}
