/**
 * A Notary root key is an X.509 certificate (the rules: root-rules.ts). Keyward makes it for a key
 * in the device, self-signed there, as `notary init` does for a key on disk: CN = the GUN, a leaf,
 * digital signature and key encipherment, code signing, ten years. This module loads x509: the
 * commands that make a root import it when they do.
 */
import { X509Certificate } from 'node:crypto';
import { keywardError } from '../../errors.js';
import type { KeyHandle } from '../../keystore/backend.js';
import { signCertificate, SigningKey } from '../../certificates/signer.js';
import { randomSerial } from '../../x509/serial.js';
import * as x509 from '../../x509/peculiar.js';

export const ROOT_CERTIFICATE_YEARS = 10;

/** A certificate for the device key `handle`, CN = `gun`, self-signed in the device. */
export async function makeRootCertificate(handle: KeyHandle, gun: string, options: { notBefore?: Date; notAfter?: Date } = {}): Promise<X509Certificate> {
  const algorithm = handle.info.algorithm;
  if (algorithm === 'ed25519' || !algorithm) {
    throw keywardError(
      'NOTARY_ROOT_KEY_TYPE',
      `${handle.info.uri} is ${algorithm === 'ed25519' ? 'an Ed25519 key' : 'a key of an unknown type'}; a Notary root key is ECDSA or RSA`,
      {
        hint: 'notary 0.7 reads root keys as ecdsa-x509 or rsa-x509 certificates: generate a p256 (or rsa2048+) key for the root',
      },
    );
  }
  const signer = await SigningKey.of(handle);
  const notBefore = options.notBefore ?? new Date();
  const notAfter = options.notAfter ?? new Date(new Date(notBefore).setUTCFullYear(notBefore.getUTCFullYear() + ROOT_CERTIFICATE_YEARS));
  const certificate = await signCertificate(signer, 'self', {
    serialNumber: randomSerial(),
    subject: new x509.Name([{ CN: [gun] }]),
    spki: signer.spki,
    notBefore,
    notAfter,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
      new x509.BasicConstraintsExtension(false, undefined, true),
    ],
  });
  return new X509Certificate(Buffer.from(certificate.rawData));
}
