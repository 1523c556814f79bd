/**
 * Key identifiers (RFC 5280 §4.2.1.1–2), method 1: the SHA-1 of the subjectPublicKey BIT STRING's
 * contents. A certificate names its own key with one and its issuer's with another; CRLs and the
 * ledger find an issuer by it.
 */
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as x509 from './peculiar.js';

/** The key identifier of an SPKI (DER, or already decoded). */
export function keyIdentifierOf(spki: Uint8Array | SubjectPublicKeyInfo): Buffer {
  const parsed = spki instanceof SubjectPublicKeyInfo ? spki : AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return createHash('sha1').update(new Uint8Array(parsed.subjectPublicKey)).digest();
}

export function subjectKeyIdentifier(spki: Uint8Array): x509.Extension {
  return new x509.SubjectKeyIdentifierExtension(keyIdentifierOf(spki).toString('hex'));
}

export function authorityKeyIdentifier(issuerSpki: Uint8Array): x509.Extension {
  return new x509.AuthorityKeyIdentifierExtension(keyIdentifierOf(issuerSpki).toString('hex'));
}
