/**
 * Certificate signing requests: decoded, their key allow-listed, their self-signature checked.
 * What a CSR asks for in its subject is read, never trusted: the CA decides what to sign. This is
 * on every issuance's path, so it parses once (asn1-schema) and verifies with node:crypto.
 */
import { createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import type { Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { algorithmOfKey, ALGORITHMS, nodeHashName, signatureAlgorithmByOid } from '../crypto/algorithms.js';
import { keywardError, type KeywardError } from '../errors.js';
import { quoted } from '../quoted.js';
import { fromPemOrDer } from '../x509/pem.js';
import { NAME_OIDS } from './names.js';

export interface CheckedCsr {
  /** SubjectPublicKeyInfo DER of the requested key. */
  spki: Uint8Array;
  /** The same, decoded, for building the certificate. */
  subjectPublicKeyInfo: SubjectPublicKeyInfo;
  publicKey: KeyObject;
  /** A person's name for the key: "ECDSA P-256", "RSA 3072", "Ed25519". */
  keyDescription: string;
  /** The subject's attributes as requested (for the CA to check, not to copy). */
  requested: { commonName?: string; organizationalUnit?: string; organization?: string };
}

/** Keys a node may certify: the curves and sizes SwarmKit and Keyward use. */
function allowKey(key: KeyObject): string {
  const algorithm = algorithmOfKey(key);
  if (algorithm) return ALGORITHMS[algorithm].title;
  const details = key.asymmetricKeyDetails;
  const description = `${key.asymmetricKeyType}${details?.namedCurve ? ` ${details.namedCurve}` : ''}${details?.modulusLength ? ` ${details.modulusLength}` : ''}`;
  throw keywardError('CSR_KEY_NOT_ALLOWED', `the CSR's key (${description}) is not allowed`, {
    hint: 'use ECDSA P-256 or P-384, RSA 2048/3072/4096, or Ed25519',
  });
}

function attribute(name: Name, oid: string): string | undefined {
  const values = name.flatMap((rdn) => rdn.filter((atv) => atv.type === oid).map((atv) => atv.value.toString()));
  return values.length === 0 ? undefined : values.join('+');
}

/** A certificate where a CSR was wanted (the file next to it, the answer of an earlier request), said as such. */
function certificateInstead(input: Uint8Array | string): KeywardError | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(fromPemOrDer(input, 'CERTIFICATE'));
  } catch {
    return undefined;
  }
  // CSR_MALFORMED still: to cfssl's API this is a CSR that does not decode, as before.
  return keywardError('CSR_MALFORMED', `it holds an X.509 certificate (${quoted(certificate.subject.replace(/\n/g, ', '))}), not a certificate request (CSR)`, {
    hint: 'give the certificate request (openssl req -new … -out node.csr); a certificate is what the CA gives back',
    details: { found: 'certificate' },
  });
}

export async function checkCsr(input: Uint8Array | string): Promise<CheckedCsr> {
  let request: CertificationRequest;
  let signedPart: Uint8Array;
  try {
    const der = fromPemOrDer(input, 'CERTIFICATE REQUEST');
    request = AsnConvert.parse(der, CertificationRequest);
    // The bytes the signature covers, exactly as sent (re-encoding could differ from them).
    if (!request.certificationRequestInfoRaw) throw new Error('no certificationRequestInfo');
    signedPart = new Uint8Array(request.certificationRequestInfoRaw);
  } catch (cause) {
    throw (
      certificateInstead(input) ??
      keywardError('CSR_MALFORMED', 'the certificate request does not decode as a PKCS#10 CSR', { cause, hint: 'send a PEM "CERTIFICATE REQUEST" or its DER' })
    );
  }
  const info = request.certificationRequestInfo;
  const spki = new Uint8Array(AsnConvert.serialize(info.subjectPKInfo));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw keywardError('CSR_MALFORMED', "the certificate request's public key does not decode", { cause });
  }
  // The key first: a key outside the allow-list is refused whatever its signature says.
  const keyDescription = allowKey(publicKey);
  const signature = signatureAlgorithmByOid(request.signatureAlgorithm.algorithm);
  if (!signature) {
    throw keywardError(
      'CSR_SIGNATURE_ALGORITHM',
      `the certificate request is signed with an algorithm this CA does not accept (${quoted(request.signatureAlgorithm.algorithm)})`,
      {
        hint: 'sign it with ECDSA or RSA PKCS#1 v1.5 over SHA-256/384/512, or Ed25519',
      },
    );
  }
  let valid: boolean;
  try {
    valid = verify(signature.hash && nodeHashName(signature.hash), signedPart, publicKey, new Uint8Array(request.signature));
  } catch (cause) {
    throw keywardError('CSR_MALFORMED', "the certificate request's signature cannot be checked (malformed signature)", { cause });
  }
  if (!valid) throw keywardError('CSR_SIGNATURE_INVALID', "the certificate request's self-signature does not verify: it was altered or not made with its key");
  return {
    spki,
    subjectPublicKeyInfo: info.subjectPKInfo,
    publicKey,
    keyDescription,
    requested: {
      commonName: attribute(info.subject, NAME_OIDS.commonName),
      organizationalUnit: attribute(info.subject, NAME_OIDS.organizationalUnit),
      organization: attribute(info.subject, NAME_OIDS.organization),
    },
  };
}
