/**
 * Certificate signing requests: decoded, their key allow-listed, their self-signature checked.
 * What a CSR asks for in its subject is read, never trusted: the CA decides what to sign. This is
 * on every issuance's path, so it is read directly where it can be (crypto/der.ts), through
 * asn1-schema otherwise, and verified with node:crypto.
 */
import { createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { algorithmOfKey, ALGORITHMS, ecAlgorithmByOid, nodeHashName, signatureAlgorithmByOid, type KeyAlgorithm } from '../crypto/algorithms.js';
import { contentsOf, contextConstructed, elementBytes, oidToString, readChildren, readTagged, TAG, type DerElement } from '../crypto/der.js';
import { keywardError, type KeywardError } from '../errors.js';
import { quoted } from '../quoted.js';
import { fromPemOrDer } from '../x509/pem.js';
import { NAME_OIDS } from './names.js';

export interface CheckedCsr {
  /** SubjectPublicKeyInfo DER of the requested key. */
  spki: Uint8Array;
  /** The bits of its subjectPublicKey BIT STRING (what the key identifier is the hash of). */
  subjectPublicKey: Uint8Array;
  publicKey: KeyObject;
  /** A person's name for the key: "ECDSA P-256", "RSA 3072", "Ed25519". */
  keyDescription: string;
  /** The subject's attributes as requested (for the CA to check, not to copy). */
  requested: { commonName?: string; organizationalUnit?: string; organization?: string };
}

/** What a CSR says, decoded but not yet checked. */
interface DecodedCsr {
  /** The bytes the signature covers (certificationRequestInfo), exactly as sent. */
  signedPart: Uint8Array;
  spki: Uint8Array;
  subjectPublicKey: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** Each attribute of the subject (OID, value), in order. */
  subject: Array<[oid: string, value: string]>;
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

function attribute(subject: DecodedCsr['subject'], oid: string): string | undefined {
  const values = subject.filter(([type]) => type === oid).map(([, value]) => value);
  return values.length === 0 ? undefined : values.join('+');
}

/** A name's values as read directly: printable ASCII in the three string types CSRs use (anything else goes to the library). */
const DIRECT_STRINGS: ReadonlySet<number> = new Set([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING]);
const isPrintableAscii = (bytes: Uint8Array) => bytes.every((b) => b >= 0x20 && b < 0x7f);

/** The bits of a BIT STRING without unused bits, or undefined. */
function wholeBits(der: Uint8Array, element: DerElement | undefined): Uint8Array | undefined {
  if (element?.tag !== TAG.BIT_STRING || element.end === element.start || der[element.start] !== 0) return undefined;
  return der.subarray(element.start + 1, element.end);
}

/** An OBJECT IDENTIFIER's dotted form, or undefined. */
const oidOf = (der: Uint8Array, element: DerElement | undefined) => (element?.tag === TAG.OID ? oidToString(contentsOf(der, element)) : undefined);

/**
 * An AlgorithmIdentifier's OID, or undefined. Its parameters, if any, as the algorithms a CSR may
 * use have them: NULL (RSA) or a curve's OID (EC); other parameters are left to the library.
 */
function algorithmOid(der: Uint8Array, element: DerElement | undefined): string | undefined {
  const [type, parameters, ...more] = (element?.tag === TAG.SEQUENCE ? readChildren(der, element) : undefined) ?? [];
  const plainParameters = !parameters || (parameters.tag === TAG.NULL && parameters.end === parameters.start) || oidOf(der, parameters) !== undefined;
  return plainParameters && more.length === 0 ? oidOf(der, type) : undefined;
}

/** `attributes [0]` as nodes send it: empty (an extension request, say, is left to the library). */
const NO_ATTRIBUTES = contextConstructed(0);

/**
 * A PKCS#10 CSR (RFC 2986) read directly (crypto/der.ts): the asn1-schema parse cost more than the
 * rest of a certificate's issuance. Only the DER that Go, OpenSSL and Node produce, names in
 * printable ASCII: anything else is left to the library (undefined), which reads it as before.
 */
function decodeDirectly(der: Uint8Array): DecodedCsr | undefined {
  const csr = readTagged(der, 0, TAG.SEQUENCE);
  if (!csr || csr.end !== der.length) return undefined;
  const [info, algorithm, signatureElement, ...more] = readChildren(der, csr) ?? [];
  const signature = wholeBits(der, signatureElement);
  const signatureAlgorithm = algorithmOid(der, algorithm);
  if (info?.tag !== TAG.SEQUENCE || !signature || !signatureAlgorithm || more.length > 0) return undefined;
  const [version, name, spkiElement, attributes, ...extra] = readChildren(der, info) ?? [];
  if (version?.tag !== TAG.INTEGER || version.end - version.start !== 1 || der[version.start] !== 0) return undefined;
  if (name?.tag !== TAG.SEQUENCE || spkiElement?.tag !== TAG.SEQUENCE || extra.length > 0) return undefined;
  if (attributes?.tag !== NO_ATTRIBUTES || attributes.end !== attributes.start) return undefined;
  const [keyAlgorithm, keyBits, ...rest] = readChildren(der, spkiElement) ?? [];
  const subjectPublicKey = wholeBits(der, keyBits);
  if (!subjectPublicKey || !algorithmOid(der, keyAlgorithm) || rest.length > 0) return undefined;
  const rdns = readChildren(der, name);
  if (!rdns) return undefined;
  const subject: DecodedCsr['subject'] = [];
  for (const rdn of rdns) {
    const pairs = rdn.tag === TAG.SET ? readChildren(der, rdn) : undefined;
    if (!pairs?.length) return undefined;
    for (const pair of pairs) {
      const [type, value, ...others] = (pair.tag === TAG.SEQUENCE ? readChildren(der, pair) : undefined) ?? [];
      const oid = oidOf(der, type);
      if (!oid || !value || !DIRECT_STRINGS.has(value.tag) || !isPrintableAscii(contentsOf(der, value)) || others.length > 0) return undefined;
      subject.push([oid, Buffer.from(contentsOf(der, value)).toString('latin1')]);
    }
  }
  return {
    signedPart: elementBytes(der, info),
    spki: elementBytes(der, spkiElement),
    subjectPublicKey,
    signatureAlgorithm,
    signature,
    subject,
  };
}

/** The same through asn1-schema, for whatever the direct reading leaves: BER, other string types, other shapes. */
function decodeWithLibrary(der: Uint8Array): DecodedCsr {
  const request = AsnConvert.parse(der, CertificationRequest);
  // The bytes the signature covers, exactly as sent (re-encoding could differ from them).
  if (!request.certificationRequestInfoRaw) throw new Error('no certificationRequestInfo');
  const info = request.certificationRequestInfo;
  return {
    signedPart: new Uint8Array(request.certificationRequestInfoRaw),
    spki: new Uint8Array(AsnConvert.serialize(info.subjectPKInfo)),
    subjectPublicKey: new Uint8Array(info.subjectPKInfo.subjectPublicKey),
    signatureAlgorithm: request.signatureAlgorithm.algorithm,
    signature: new Uint8Array(request.signature),
    subject: [...info.subject].flatMap((rdn) => [...rdn].map((atv): [string, string] => [atv.type, atv.value.toString()])),
  };
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

/** A CSR decoded, directly when it can be, else through the library. Exported for the tests that compare the two. */
export function decodeCsr(input: Uint8Array | string, how: 'direct' | 'library' | 'either' = 'either'): DecodedCsr | undefined {
  let der: Uint8Array;
  try {
    der = fromPemOrDer(input, 'CERTIFICATE REQUEST');
    if (how !== 'library') {
      const direct = decodeDirectly(der);
      if (direct || how === 'direct') return direct;
    }
    return decodeWithLibrary(der);
  } catch (cause) {
    throw (
      certificateInstead(input) ??
      keywardError('CSR_MALFORMED', 'the certificate request does not decode as a PKCS#10 CSR', { cause, hint: 'send a PEM "CERTIFICATE REQUEST" or its DER' })
    );
  }
}

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/** The EC algorithm of an SPKI (id-ecPublicKey on a curve Keyward knows), if it is one. */
function ecAlgorithmOf(spki: Uint8Array): KeyAlgorithm | undefined {
  const outer = readTagged(spki, 0, TAG.SEQUENCE);
  const [identifier] = (outer && readChildren(spki, outer)) ?? [];
  const [type, curve, ...more] = (identifier?.tag === TAG.SEQUENCE ? readChildren(spki, identifier) : undefined) ?? [];
  if (curve?.tag !== TAG.OID || more.length > 0 || oidOf(spki, type) !== EC_PUBLIC_KEY) return undefined;
  return ecAlgorithmByOid(Buffer.from(elementBytes(spki, curve)).toString('hex'));
}

/**
 * The requested key, and its algorithm if known already. An uncompressed P-256 or P-384 point
 * (what nodes send) is imported from its coordinates, which OpenSSL 3 does in half the time it
 * takes to decode the same key's SPKI.
 */
function publicKeyOf(csr: DecodedCsr): { publicKey: KeyObject; algorithm?: KeyAlgorithm } {
  const algorithm = ecAlgorithmOf(csr.spki);
  const info = algorithm && ALGORITHMS[algorithm];
  if (info?.family === 'ec') {
    const point = Buffer.from(csr.subjectPublicKey);
    if (point.length === 1 + 2 * info.fieldBytes && point[0] === 0x04) {
      const x = point.subarray(1, 1 + info.fieldBytes).toString('base64url');
      const y = point.subarray(1 + info.fieldBytes).toString('base64url');
      return { publicKey: createPublicKey({ key: { kty: 'EC', crv: info.curve, x, y }, format: 'jwk' }), algorithm };
    }
  }
  return { publicKey: createPublicKey({ key: Buffer.from(csr.spki), format: 'der', type: 'spki' }) };
}

export async function checkCsr(input: Uint8Array | string): Promise<CheckedCsr> {
  const csr = decodeCsr(input)!;
  let key: ReturnType<typeof publicKeyOf>;
  try {
    key = publicKeyOf(csr);
  } catch (cause) {
    throw keywardError('CSR_MALFORMED', "the certificate request's public key does not decode", { cause });
  }
  const { publicKey } = key;
  // The key first: a key outside the allow-list is refused whatever its signature says.
  const keyDescription = key.algorithm ? ALGORITHMS[key.algorithm].title : allowKey(publicKey);
  const signature = signatureAlgorithmByOid(csr.signatureAlgorithm);
  if (!signature) {
    throw keywardError(
      'CSR_SIGNATURE_ALGORITHM',
      `the certificate request is signed with an algorithm this CA does not accept (${quoted(csr.signatureAlgorithm)})`,
      {
        hint: 'sign it with ECDSA or RSA PKCS#1 v1.5 over SHA-256/384/512, or Ed25519',
      },
    );
  }
  let valid: boolean;
  try {
    valid = verify(signature.hash && nodeHashName(signature.hash), csr.signedPart, publicKey, csr.signature);
  } catch (cause) {
    throw keywardError('CSR_MALFORMED', "the certificate request's signature cannot be checked (malformed signature)", { cause });
  }
  if (!valid) throw keywardError('CSR_SIGNATURE_INVALID', "the certificate request's self-signature does not verify: it was altered or not made with its key");
  return {
    spki: csr.spki,
    subjectPublicKey: csr.subjectPublicKey,
    publicKey,
    keyDescription,
    requested: {
      commonName: attribute(csr.subject, NAME_OIDS.commonName),
      organizationalUnit: attribute(csr.subject, NAME_OIDS.organizationalUnit),
      organization: attribute(csr.subject, NAME_OIDS.organization),
    },
  };
}
