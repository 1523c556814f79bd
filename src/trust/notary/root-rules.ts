/**
 * What notary 0.7 accepts as a root key's certificate (trustpinning/certs.go): its Common Name is the
 * GUN, it is a leaf (not a CA), valid now, not signed with SHA-1, and an RSA key has at least 2048
 * bits. Checked with node:crypto alone: reading trust data loads no x509 library.
 */
import type { X509Certificate } from 'node:crypto';
import { certificateSignatureOid, SHA1_SIGNATURE_OIDS } from '../../x509/signature-algorithm.js';

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
  const oid = certificateSignatureOid(certificate.raw);
  if (oid === undefined || SHA1_SIGNATURE_OIDS.has(oid))
    return oid ? 'it is signed with SHA-1, which Notary refuses' : 'its signature algorithm cannot be read';
  const bits = certificate.publicKey.asymmetricKeyDetails?.modulusLength;
  if (certificate.publicKey.asymmetricKeyType === 'rsa' && (bits ?? 0) < 2048) return `its RSA key has ${bits} bits; Notary wants 2048 or more`;
  return undefined;
}
