/**
 * The per-request issuing path. Building each certificate through x509's generator costs ~3 ms of
 * CPU (the reference note measured ~1 ms to build, ~0.5 ms to check the CSR); a CA that must keep
 * up with a cluster prepares what never changes once per issuer (its name, the signature
 * algorithm, the fixed extensions, all as @peculiar/asn1-x509 objects) and per certificate only
 * fills in serial, validity, subject, key and names, then has the device sign the TBS bytes.
 * The DER is still produced by the ASN.1 library, never by hand.
 */
import { randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { ALGORITHMS } from '../crypto/algorithms.js';
import type * as x509 from '../x509.js';
import { keyIdentifierOf, type SigningKey } from './signing-key.js';

/** RFC 5758 / RFC 4055 / RFC 8410 signature algorithm identifiers. */
function signatureAlgorithm(signer: SigningKey): asn.AlgorithmIdentifier {
  const info = ALGORITHMS[signer.handle.info.algorithm!];
  const oid =
    info.family === 'ec'
      ? { 'SHA-256': '1.2.840.10045.4.3.2', 'SHA-384': '1.2.840.10045.4.3.3', 'SHA-512': '1.2.840.10045.4.3.4' }[info.defaultHash]
      : info.family === 'rsa'
        ? { 'SHA-256': '1.2.840.113549.1.1.11', 'SHA-384': '1.2.840.113549.1.1.12', 'SHA-512': '1.2.840.113549.1.1.13' }[info.defaultHash]
        : '1.3.101.112';
  // RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter; ECDSA and EdDSA carry none.
  return new asn.AlgorithmIdentifier({ algorithm: oid, ...(info.family === 'rsa' ? { parameters: null } : {}) });
}

function extension(oid: string, critical: boolean, value: unknown): asn.Extension {
  return new asn.Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** Names as x509 encodes them: PrintableString when the characters allow, UTF8String otherwise. */
function attributeValue(value: string): asn.AttributeValue {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value) ? new asn.AttributeValue({ printableString: value }) : new asn.AttributeValue({ utf8String: value });
}

export function distinguishedName(attributes: Array<[oid: string, value: string]>): asn.Name {
  return new asn.Name(attributes.map(([type, value]) => new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type, value: attributeValue(value) })])));
}

export const OID = { organization: '2.5.4.10', organizationalUnit: '2.5.4.11', commonName: '2.5.4.3' } as const;

export interface TemplateFields {
  subject: asn.Name;
  subjectPublicKeyInfo: asn.SubjectPublicKeyInfo;
  notBefore: Date;
  notAfter: Date;
  /** DNS names. */
  dnsNames: string[];
}

/** One issuer's fixed parts, ready for many certificates of one profile. */
export class CertificateTemplate {
  readonly #signer: SigningKey;
  readonly #issuer: asn.Name;
  readonly #algorithm: asn.AlgorithmIdentifier;
  readonly #fixed: asn.Extension[];

  /** `fixed`: the profile's extensions that are the same for every certificate (key usage, EKU, AKI …). */
  constructor(signer: SigningKey, issuer: x509.X509Certificate, fixed: x509.Extension[]) {
    this.#signer = signer;
    this.#issuer = AsnConvert.parse(issuer.subjectName.toArrayBuffer(), asn.Name);
    this.#algorithm = signatureAlgorithm(signer);
    this.#fixed = fixed.map((e) => AsnConvert.parse(e.rawData, asn.Extension));
  }

  /** A positive serial of 128 bits less one (first byte 1–127: non-zero, so DER keeps all 16 bytes). */
  static serial(): Uint8Array {
    const bytes = randomBytes(16);
    bytes[0] = (bytes[0]! % 0x7f) + 1;
    return bytes;
  }

  /** Builds, signs (in the device) and returns the certificate's DER, and its serial. */
  async issue(fields: TemplateFields): Promise<{ der: Uint8Array; serial: Uint8Array }> {
    const serial = CertificateTemplate.serial();
    const tbs = new asn.TBSCertificate({
      version: asn.Version.v3,
      serialNumber: serial.buffer.slice(serial.byteOffset, serial.byteOffset + serial.byteLength) as ArrayBuffer,
      signature: this.#algorithm,
      issuer: this.#issuer,
      validity: new asn.Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
      subject: fields.subject,
      subjectPublicKeyInfo: fields.subjectPublicKeyInfo,
      extensions: new asn.Extensions([
        ...this.#fixed,
        extension(asn.id_ce_subjectAltName, false, new asn.SubjectAlternativeName(fields.dnsNames.map((dNSName) => new asn.GeneralName({ dNSName })))),
        extension(asn.id_ce_subjectKeyIdentifier, false, new asn.SubjectKeyIdentifier(keyIdentifierOf(fields.subjectPublicKeyInfo))),
      ]),
    });
    const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
    const signature = await this.#signer.handle.sign(tbsDer);
    const certificate = new asn.Certificate({ tbsCertificate: tbs, signatureAlgorithm: this.#algorithm, signatureValue: signature.slice().buffer as ArrayBuffer });
    return { der: new Uint8Array(AsnConvert.serialize(certificate)), serial };
  }
}
