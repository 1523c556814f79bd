/** A ledger entry for a certificate just signed: what the ledger keeps of it, and when to renew it. */
import type * as x509 from '../../x509.js';
import { renewalTime } from '../renewal.js';
import { keyIdentifierOf } from '../signing-key.js';
import { normalizeSerial, type LedgerEntry } from './ledger.js';

export function entryFor(certificate: x509.X509Certificate, profile: string, issuerSpki: Uint8Array): Omit<LedgerEntry, 'status'> {
  return {
    serial: normalizeSerial(certificate.serialNumber),
    subject: certificate.subject,
    issuer: certificate.issuer,
    issuerKeyId: keyIdentifierOf(issuerSpki).toString('hex'),
    profile,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    renewAt: renewalTime(certificate.notBefore, certificate.notAfter),
    der: new Uint8Array(certificate.rawData),
  };
}
