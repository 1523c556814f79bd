/**
 * The per-request issuing path. Building each certificate through x509's generator cost ~3 ms of
 * CPU, and even a template encoded through asn1-schema (reflect-metadata schemas over asn1js) cost
 * ~0.3 ms a certificate, more than the device's signature: what never changes for an issuer (its
 * name, the signature algorithm, the fixed extensions) is encoded once by the ASN.1 library, and
 * the few parts that change (serial, validity, subject, names, key identifier) are written as DER
 * directly (crypto/der.ts). test/ca/template.test.ts checks, over random subjects, names, dates and
 * keys, that every certificate is byte for byte what asn1-schema encodes from the same values.
 */
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { ALGORITHMS, signatureAlgorithmOid } from '../crypto/algorithms.js';
import { contextConstructed, contextPrimitive, derEncode, derOid, derTime, TAG } from '../crypto/der.js';
import type * as x509 from '../x509/peculiar.js';
import type { SigningKey } from '../certificates/signer.js';
import { randomSerialBytes } from '../x509/serial.js';

/** The signature algorithm of the issuer's key. */
function signatureAlgorithm(signer: SigningKey): asn.AlgorithmIdentifier {
  const algorithm = signer.handle.info.algorithm!;
  // RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter; ECDSA and EdDSA carry none.
  return new asn.AlgorithmIdentifier({ algorithm: signatureAlgorithmOid(algorithm), ...(ALGORITHMS[algorithm].family === 'rsa' ? { parameters: null } : {}) });
}

/** Each OID's DER, made once: a handful of attribute types and extensions. */
const oids = new Map<string, Uint8Array>();
const oid = (dotted: string) => oids.get(dotted) ?? oids.set(dotted, derOid(dotted)).get(dotted)!;

/** What PrintableString may hold (X.680 §41.4); other values are UTF8String, as x509 encodes names. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A Name (RFC 5280 §4.1.2.4), DER: each attribute its own RDN, in the order given. */
export function distinguishedNameDer(attributes: Array<[oid: string, value: string]>): Uint8Array {
  return derEncode(
    TAG.SEQUENCE,
    ...attributes.map(([type, value]) =>
      derEncode(
        TAG.SET,
        derEncode(TAG.SEQUENCE, oid(type), derEncode(PRINTABLE.test(value) ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING, Buffer.from(value, 'utf8'))),
      ),
    ),
  );
}

/** The same Name as asn1-schema's object, for extensions built with the library (name constraints). */
export function distinguishedName(attributes: Array<[oid: string, value: string]>): asn.Name {
  return AsnConvert.parse(distinguishedNameDer(attributes), asn.Name);
}

/** A non-critical extension (criticality FALSE is the DEFAULT, so DER leaves it out). */
const extension = (type: string, value: Uint8Array) => derEncode(TAG.SEQUENCE, oid(type), derEncode(TAG.OCTET_STRING, value));

/** `version [0] EXPLICIT Version DEFAULT v1`, here v3 (2). */
const VERSION_3 = derEncode(contextConstructed(0), derEncode(TAG.INTEGER, Uint8Array.of(2)));

export interface TemplateFields {
  /** The subject Name's DER (distinguishedNameDer). */
  subject: Uint8Array;
  /** The certified key's SubjectPublicKeyInfo DER, embedded as is. */
  spki: Uint8Array;
  /** Its subjectPublicKey bits, whose SHA-1 is the key identifier (RFC 5280 §4.2.1.2, method 1). */
  subjectPublicKey: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** DNS names (checked identifiers: IA5 characters). */
  dnsNames: string[];
}

/** One issuer's fixed parts, ready for many certificates of one profile. */
export class CertificateTemplate {
  readonly #signer: SigningKey;
  readonly #issuer: Uint8Array;
  readonly #algorithm: Uint8Array;
  readonly #fixed: Uint8Array[];

  /** `fixed`: the profile's extensions that are the same for every certificate (key usage, EKU, AKI …). */
  constructor(signer: SigningKey, issuer: x509.X509Certificate, fixed: x509.Extension[]) {
    this.#signer = signer;
    this.#issuer = new Uint8Array(issuer.subjectName.toArrayBuffer());
    this.#algorithm = new Uint8Array(AsnConvert.serialize(signatureAlgorithm(signer)));
    this.#fixed = fixed.map((e) => new Uint8Array(e.rawData));
  }

  /** The TBSCertificate (RFC 5280 §4.1) of one certificate. */
  tbs(serial: Uint8Array, fields: TemplateFields): Uint8Array {
    const names = derEncode(TAG.SEQUENCE, ...fields.dnsNames.map((name) => derEncode(contextPrimitive(2), Buffer.from(name, 'latin1'))));
    const keyIdentifier = createHash('sha1').update(fields.subjectPublicKey).digest();
    return derEncode(
      TAG.SEQUENCE,
      VERSION_3,
      derEncode(TAG.INTEGER, serial),
      this.#algorithm,
      this.#issuer,
      derEncode(TAG.SEQUENCE, derTime(fields.notBefore), derTime(fields.notAfter)),
      fields.subject,
      fields.spki,
      derEncode(
        contextConstructed(3),
        derEncode(
          TAG.SEQUENCE,
          ...this.#fixed,
          extension(asn.id_ce_subjectAltName, names),
          extension(asn.id_ce_subjectKeyIdentifier, derEncode(TAG.OCTET_STRING, keyIdentifier)),
        ),
      ),
    );
  }

  /** Builds, signs (in the device) and returns the certificate's DER, and its serial. */
  async issue(fields: TemplateFields): Promise<{ der: Uint8Array; serial: Uint8Array }> {
    // 16 random bytes, the first 1–127: already a minimal, positive INTEGER.
    const serial = randomSerialBytes();
    const tbs = this.tbs(serial, fields);
    const signature = await this.#signer.handle.sign(tbs);
    return { der: derEncode(TAG.SEQUENCE, tbs, this.#algorithm, derEncode(TAG.BIT_STRING, Uint8Array.of(0), signature)), serial };
  }
}
