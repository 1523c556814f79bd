/**
 * A Notary root key is an X.509 certificate (notary 0.7, trustpinning/certs.go): its Common Name is
 * the GUN, it is a leaf (not a CA), not expired, not signed with SHA-1, and an RSA key has at least
 * 2048 bits. Keyward makes it for a key in the device, self-signed there, as `notary init` does for
 * a key on disk (digital signature and key encipherment, code signing, ten years).
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

/** The Common Name of a certificate's subject, as Go reads it (the last CN). */
export function commonName(certificate: X509Certificate): string | undefined {
  const names = certificate.subject.split('\n').filter((line) => line.startsWith('CN='));
  return names.length ? names[names.length - 1]!.slice(3) : undefined;
}

/** Why notary 0.7 would refuse this certificate as a root key of `gun` at `now`, or undefined when it would not. */
export function rootCertificateProblem(certificate: X509Certificate, gun: string, now: Date): string | undefined {
  const cn = commonName(certificate);
  if (cn !== gun) return `its Common Name is ${cn === undefined ? 'missing' : `"${cn}"`}, not the GUN "${gun}"`;
  if (certificate.ca) return 'it is a CA certificate; Notary takes only leaf certificates as root keys';
  if (now.getTime() < Date.parse(certificate.validFrom)) return `it is not valid before ${new Date(certificate.validFrom).toISOString()}`;
  if (now.getTime() > Date.parse(certificate.validTo)) return `it expired at ${new Date(certificate.validTo).toISOString()}`;
  if (signatureHash(certificate) === 'SHA-1') return 'it is signed with SHA-1, which Notary refuses';
  const bits = certificate.publicKey.asymmetricKeyDetails?.modulusLength;
  if (certificate.publicKey.asymmetricKeyType === 'rsa' && (bits ?? 0) < 2048) return `its RSA key has ${bits} bits; Notary wants 2048 or more`;
  return undefined;
}

/** The hash of the certificate's signature algorithm, as WebCrypto names it ("SHA-256"), when x509 can tell. */
function signatureHash(certificate: X509Certificate): string | undefined {
  try {
    return (new x509.X509Certificate(certificate.raw).signatureAlgorithm as { hash?: { name?: string } }).hash?.name;
  } catch {
    return undefined;
  }
}
