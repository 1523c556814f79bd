/**
 * The per-request issuing path. Building each certificate through x509's generator costs ~3 ms of
 * CPU (the reference note measured ~1 ms to build, ~0.5 ms to check the CSR); a CA that must keep
 * up with a cluster encodes what never changes once per issuer (its name, the signature
 * algorithm, the fixed extensions) and per certificate only encodes serial, validity, subject,
 * names and key identifier, then has the device sign the TBS bytes. Every byte of DER is still
 * produced by the ASN.1 library (asn1-schema over asn1js), never by hand: parts encoded earlier are
 * only written again as they were.
 */
import { AsnConvert, OctetString, type IAsnConvertible } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { ALGORITHMS, signatureAlgorithmOid } from '../crypto/algorithms.js';
import { keyIdentifierOf } from '../x509/key-identifier.js';
import type * as x509 from '../x509/peculiar.js';
import type { SigningKey } from '../certificates/signer.js';
import { randomSerialBytes } from '../x509/serial.js';

/** The signature algorithm of the issuer's key. */
function signatureAlgorithm(signer: SigningKey): asn.AlgorithmIdentifier {
  const algorithm = signer.handle.info.algorithm!;
  // RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter; ECDSA and EdDSA carry none.
  return new asn.AlgorithmIdentifier({ algorithm: signatureAlgorithmOid(algorithm), ...(ALGORITHMS[algorithm].family === 'rsa' ? { parameters: null } : {}) });
}

/** An asn1js element whose DER the library produced earlier: written again as is, not re-encoded. */
class EncodedBlock extends asn1js.BaseBlock {
  readonly #der: ArrayBuffer;

  constructor(der: ArrayBuffer) {
    super();
    this.#der = der;
  }

  override toBER(sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    const bytes = sizeOnly ? new ArrayBuffer(this.#der.byteLength) : this.#der;
    if (!writer) return bytes;
    writer.write(bytes);
    return new ArrayBuffer(0);
  }
}

/** Stands in for an asn1-schema value inside another, as the DER that value encodes to. */
class Encoded implements IAsnConvertible {
  readonly #der: ArrayBuffer;

  constructor(der: ArrayBuffer) {
    this.#der = der;
  }

  toASN(): asn1js.BaseBlock {
    return new EncodedBlock(this.#der);
  }

  toSchema(): asn1js.BaseBlock {
    throw new Error('an encoded part is written, never parsed');
  }

  fromASN(): this {
    throw new Error('an encoded part is written, never parsed');
  }
}

/** `value` encoded now, typed as itself so that it fits where `value` would. */
function encodedOnce<T extends object>(value: T): T {
  return new Encoded(AsnConvert.serialize(value)) as unknown as T;
}

/** DER already at hand (from the ASN.1 library), typed as the value it encodes. */
function encodedAs<T>(der: Uint8Array): T {
  return new Encoded(der.slice().buffer as ArrayBuffer) as unknown as T;
}

function extension(oid: string, critical: boolean, value: unknown): asn.Extension {
  return new asn.Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** Names as x509 encodes them: PrintableString when the characters allow, UTF8String otherwise. */
function attributeValue(value: string): asn.AttributeValue {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value) ? new asn.AttributeValue({ printableString: value }) : new asn.AttributeValue({ utf8String: value });
}

export function distinguishedName(attributes: Array<[oid: string, value: string]>): asn.Name {
  return new asn.Name(
    attributes.map(([type, value]) => new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type, value: attributeValue(value) })])),
  );
}

export interface TemplateFields {
  subject: asn.Name;
  /** The certified key: its DER (embedded as is) and its decoded form (for the key identifier). */
  spki: Uint8Array;
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
    this.#issuer = encodedAs<asn.Name>(new Uint8Array(issuer.subjectName.toArrayBuffer()));
    this.#algorithm = encodedOnce(signatureAlgorithm(signer));
    this.#fixed = fixed.map((e) => encodedAs<asn.Extension>(new Uint8Array(e.rawData)));
  }

  /** Builds, signs (in the device) and returns the certificate's DER, and its serial. */
  async issue(fields: TemplateFields): Promise<{ der: Uint8Array; serial: Uint8Array }> {
    const serial = randomSerialBytes();
    const tbs = new asn.TBSCertificate({
      version: asn.Version.v3,
      serialNumber: serial.buffer.slice(serial.byteOffset, serial.byteOffset + serial.byteLength) as ArrayBuffer,
      signature: this.#algorithm,
      issuer: this.#issuer,
      validity: new asn.Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
      subject: fields.subject,
      subjectPublicKeyInfo: encodedAs<asn.SubjectPublicKeyInfo>(fields.spki),
      extensions: new asn.Extensions([
        ...this.#fixed,
        extension(asn.id_ce_subjectAltName, false, new asn.SubjectAlternativeName(fields.dnsNames.map((dNSName) => new asn.GeneralName({ dNSName })))),
        extension(asn.id_ce_subjectKeyIdentifier, false, new asn.SubjectKeyIdentifier(keyIdentifierOf(fields.subjectPublicKeyInfo))),
      ]),
    });
    const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
    const signature = await this.#signer.handle.sign(tbsDer);
    const certificate = new asn.Certificate({
      tbsCertificate: encodedAs<asn.TBSCertificate>(tbsDer),
      signatureAlgorithm: this.#algorithm,
      signatureValue: signature.slice().buffer as ArrayBuffer,
    });
    return { der: new Uint8Array(AsnConvert.serialize(certificate)), serial };
  }
}
