/**
 * Certificate signing requests: decoded, their self-signature checked, their key allow-listed.
 * What a CSR asks for in its subject is read, never trusted: the CA decides what to sign.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { UsageError, VerificationError } from '../errors.js';
import { fromPemOrDer } from '../pem.js';
import * as x509 from '../x509.js';

export interface CheckedCsr {
  csr: x509.Pkcs10CertificateRequest;
  /** SubjectPublicKeyInfo DER of the requested key. */
  spki: Uint8Array;
  publicKey: KeyObject;
  /** A person's name for the key: "ECDSA P-256", "RSA 3072", "Ed25519". */
  keyDescription: string;
  /** The subject's attributes as requested (for the CA to check, not to copy). */
  requested: { commonName?: string; organizationalUnit?: string; organization?: string };
}

/** Keys a node may certify: the curves and sizes SwarmKit and Keyward use. */
function allowKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details?.namedCurve === 'prime256v1') return 'ECDSA P-256';
      if (details?.namedCurve === 'secp384r1') return 'ECDSA P-384';
      break;
    case 'rsa':
      if (details?.modulusLength && details.modulusLength >= 2048 && details.modulusLength <= 4096 && details.modulusLength % 1024 === 0) return `RSA ${details.modulusLength}`;
      break;
    case 'ed25519':
      return 'Ed25519';
  }
  const description = `${key.asymmetricKeyType}${details?.namedCurve ? ` ${details.namedCurve}` : ''}${details?.modulusLength ? ` ${details.modulusLength}` : ''}`;
  throw new UsageError('CSR_KEY_NOT_ALLOWED', `the CSR's key (${description}) is not allowed`, {
    hint: 'use ECDSA P-256 or P-384, RSA 2048/3072/4096, or Ed25519',
  });
}

function attribute(name: x509.Name, oid: string): string | undefined {
  const values = name.getField(oid);
  return values.length === 1 ? values[0] : values.length === 0 ? undefined : values.join('+');
}

export async function checkCsr(input: Uint8Array | string): Promise<CheckedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    const der = fromPemOrDer(typeof input === 'string' ? Buffer.from(input) : input, 'CERTIFICATE REQUEST');
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (cause) {
    throw new UsageError('CSR_MALFORMED', 'the certificate request does not decode as a PKCS#10 CSR', { cause, hint: 'send a PEM "CERTIFICATE REQUEST" or its DER' });
  }
  // The key first: a key outside the allow-list is refused whatever its signature says.
  const spki = new Uint8Array(csr.publicKey.rawData);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new UsageError('CSR_MALFORMED', 'the certificate request\'s public key does not decode', { cause });
  }
  const keyDescription = allowKey(publicKey);
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (cause) {
    throw new UsageError('CSR_MALFORMED', 'the certificate request\'s signature cannot be checked (malformed signature)', { cause });
  }
  if (!valid) throw new VerificationError('CSR_SIGNATURE_INVALID', 'the certificate request\'s self-signature does not verify: it was altered or not made with its key');
  return {
    csr,
    spki,
    publicKey,
    keyDescription,
    requested: {
      commonName: attribute(csr.subjectName, '2.5.4.3'),
      organizationalUnit: attribute(csr.subjectName, '2.5.4.11'),
      organization: attribute(csr.subjectName, '2.5.4.10'),
    },
  };
}

/** Parses a certificate (PEM or DER) with a clear error. */
export function parseCertificate(input: Uint8Array | string, what = 'certificate'): X509Certificate {
  try {
    return new X509Certificate(fromPemOrDer(typeof input === 'string' ? Buffer.from(input) : input, 'CERTIFICATE'));
  } catch (cause) {
    throw new UsageError('CERTIFICATE_MALFORMED', `the ${what} is not a valid X.509 certificate`, { cause });
  }
}
