/** A ledger entry for a certificate just signed: what the ledger keeps of it, and when to renew it. */
import { renewalTime } from '../renewal.js';
import { normalizeSerial, type LedgerEntry } from './ledger.js';

export interface SignedFields {
  /** Hex, any form. */
  serial: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  der: Uint8Array;
}

/** `issuerKeyId`: the issuer's key identifier, hex. */
export function entryFor(fields: SignedFields, profile: string, issuerKeyId: string): Omit<LedgerEntry, 'status'> {
  return {
    serial: normalizeSerial(fields.serial),
    subject: fields.subject,
    issuer: fields.issuer,
    issuerKeyId,
    profile,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    renewAt: renewalTime(fields.notBefore, fields.notAfter),
    der: fields.der,
  };
}

/** The fields of a certificate x509 built. */
export function fieldsOf(certificate: {
  serialNumber: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  rawData: ArrayBuffer;
}): SignedFields {
  const { serialNumber, subject, issuer, notBefore, notAfter, rawData } = certificate; // getters: read, not spread
  return { serial: serialNumber, subject, issuer, notBefore, notAfter, der: new Uint8Array(rawData) };
}
