/**
 * Self-signed certificates signed inside the device, through the WebCrypto bridge: the proof that
 * @peculiar/x509 signs with a hardware key without knowing it (`keyward cert self-sign`). A
 * self-signed certificate is its own issuer, so its serial comes from the CA's serial source.
 */
import { randomSerial } from '../x509/serial.js';
import { keywardError } from '../errors.js';
import type { KeyHandle } from '../keystore/backend.js';
import { subjectKeyIdentifier } from '../x509/key-identifier.js';
import * as x509 from '../x509/peculiar.js';
import { signCertificate, SigningKey } from './signer.js';

export interface SelfSignedOptions {
  /** Distinguished name, e.g. "CN=build signer, O=Example". */
  subject: string;
  days: number;
  /** Mark it a CA (basicConstraints cA, keyCertSign + cRLSign). */
  ca?: boolean;
  notBefore?: Date;
}

export async function createSelfSignedCertificate(handle: KeyHandle, options: SelfSignedOptions): Promise<x509.X509Certificate> {
  if (!Number.isInteger(options.days) || options.days < 1) {
    throw keywardError('VALIDITY_INVALID', `--days must be a whole number of days ≥ 1, got ${options.days}`);
  }
  let subject: x509.Name;
  try {
    subject = new x509.Name(options.subject);
  } catch (cause) {
    throw keywardError('SUBJECT_INVALID', `"${options.subject}" is not a distinguished name`, { cause, hint: 'write it like "CN=signer, O=Example"' });
  }
  const signer = await SigningKey.of(handle);
  const notBefore = options.notBefore ?? new Date();
  const usage = options.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      ]
    : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)];
  return signCertificate(signer, 'self', {
    serialNumber: randomSerial(),
    subject,
    spki: signer.spki,
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.days * 86_400_000),
    extensions: [subjectKeyIdentifier(signer.spki), ...usage],
  });
}
