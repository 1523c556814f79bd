/**
 * A keystore key as x509 needs it to sign certificates and CRLs: the handle behind a WebCrypto key
 * pair (set up once, not per certificate), the signing algorithm that fits it, its SPKI and key
 * identifier; and the one place x509's certificate generator is called with it. What a certificate
 * should say (validity rules, serials, profiles) is the caller's: the CA's, or self-signed.ts.
 */
import type { webcrypto } from 'node:crypto';
import { ALGORITHMS } from '../crypto/algorithms.js';
import { keywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import { MemoryKeyHandle } from '../keystore/memory-key.js';
import { hardwareKeyPair, KeywardCrypto } from '../keystore/webcrypto.js';
import { keyIdentifierOf } from '../x509/key-identifier.js';
import * as x509 from '../x509/peculiar.js';

/** The WebCrypto signing algorithm x509 should ask the bridge for, given the key. */
function signingAlgorithmFor(handle: KeyHandle): { name: string; hash?: string } {
  const algorithm = handle.info.algorithm;
  if (!algorithm) throw keywardError('KEY_TYPE_UNSUPPORTED', `key ${handle.info.uri} cannot sign certificates`);
  const info = ALGORITHMS[algorithm];
  if (info.family === 'ec') return { name: 'ECDSA', hash: info.defaultHash };
  if (info.family === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: info.defaultHash };
  return { name: 'Ed25519' };
}

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

  /**
   * A throw-away key of this key's algorithm in memory, posing as this key (its SPKI, its signing
   * algorithm): what it signs has the same to-be-signed bytes as what this key would sign, so a
   * certificate can be shown and checked before the device signs it.
   */
  static async standIn(of: SigningKey): Promise<SigningKey> {
    const handle = new MemoryKeyHandle(of.handle.info.algorithm!, 'throw-away review key');
    return new SigningKey(handle, await hardwareKeyPair(handle), of.spki, of.algorithm);
  }

  get keyIdentifier(): Buffer {
    return keyIdentifierOf(this.spki);
  }
}

/** Everything a certificate says but its issuer and signature. */
export interface CertificateFields {
  serialNumber: string;
  subject: string | x509.Name;
  /** SubjectPublicKeyInfo DER of the key being certified. */
  spki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: x509.Extension[];
}

/** Signs a certificate in the device: issued by `issuer` (the signer's own certificate), or self-signed. */
export function signCertificate(signer: SigningKey, issuer: x509.X509Certificate | 'self', fields: CertificateFields): Promise<x509.X509Certificate> {
  const subject = typeof fields.subject === 'string' ? new x509.Name(fields.subject) : fields.subject;
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: fields.serialNumber,
      subject,
      issuer: issuer === 'self' ? subject : issuer.subjectName,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      publicKey: new x509.PublicKey(fields.spki),
      signingKey: signer.keys.privateKey,
      signingAlgorithm: signer.algorithm,
      extensions: fields.extensions,
    },
    signer.crypto,
  );
}
