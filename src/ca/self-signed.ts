/**
 * Self-signed certificates signed inside the device, through the WebCrypto bridge: the proof that
 * @peculiar/x509 signs with a hardware key without knowing it, and the start of every root CA.
 */
import { ALGORITHMS } from '../crypto/algorithms.js';
import { UsageError } from '../errors.js';
import type { KeyHandle } from '../keystore/keystore.js';
import { hardwareKeyPair, KeywardCrypto } from '../keystore/webcrypto.js';
import * as x509 from '../x509.js';
import { randomSerial } from './serial.js';

export interface SelfSignedOptions {
  /** Distinguished name, e.g. "CN=build signer, O=Example". */
  subject: string;
  days: number;
  /** Mark it a CA (basicConstraints cA, keyCertSign + cRLSign). */
  ca?: boolean;
  notBefore?: Date;
}

/** The WebCrypto signing algorithm x509 should ask the bridge for, given the key. */
export function signingAlgorithmFor(handle: KeyHandle): { name: string; hash?: string } {
  const algorithm = handle.info.algorithm;
  if (!algorithm) throw new UsageError('KEY_TYPE_UNSUPPORTED', `key ${handle.info.uri} cannot sign certificates`);
  const info = ALGORITHMS[algorithm];
  if (info.family === 'ec') return { name: 'ECDSA', hash: info.defaultHash };
  if (info.family === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: info.defaultHash };
  return { name: 'Ed25519' };
}

export async function createSelfSignedCertificate(handle: KeyHandle, options: SelfSignedOptions): Promise<x509.X509Certificate> {
  if (!Number.isInteger(options.days) || options.days < 1) {
    throw new UsageError('VALIDITY_INVALID', `--days must be a whole number of days ≥ 1, got ${options.days}`);
  }
  let name: x509.Name;
  try {
    name = new x509.Name(options.subject);
  } catch (cause) {
    throw new UsageError('SUBJECT_INVALID', `"${options.subject}" is not a distinguished name`, { cause, hint: 'write it like "CN=signer, O=Example"' });
  }
  const keys = await hardwareKeyPair(handle);
  const crypto = new KeywardCrypto();
  const notBefore = options.notBefore ?? new Date();
  const notAfter = new Date(notBefore.getTime() + options.days * 86_400_000);
  const extensions: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)];
  if (options.ca) {
    extensions.push(
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    );
  } else {
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  }
  return x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name,
      notBefore,
      notAfter,
      signingAlgorithm: signingAlgorithmFor(handle),
      keys,
      extensions,
    },
    crypto,
  );
}
