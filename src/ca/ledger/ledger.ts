/**
 * The issuance ledger: every certificate a CA issues, recorded durably before it is handed out,
 * with its revocation status. An interface, so that a PostgreSQL ledger shared by several CA
 * replicas can follow the embedded SQLite one.
 */

import { keywardError } from '../../errors.js';

export type RevocationReason =
  'unspecified' | 'keyCompromise' | 'cACompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'certificateHold' | 'privilegeWithdrawn';

export const REVOCATION_REASONS: readonly RevocationReason[] = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
];

/**
 * Serial numbers as people type them (hex with or without colons, any case, with or without
 * leading zeros) → the ledger's form: the serial's bytes as the certificate has them, in
 * lower-case hex, as `openssl x509 -serial` and Node print them (0a1b…, not a1b…).
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.trim().replace(/^0x/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw keywardError('SERIAL_INVALID', `"${serial}" is not a hex serial number`);
  const digits = BigInt(`0x${hex}`).toString(16);
  return digits.length % 2 === 1 ? `0${digits}` : digits;
}

export interface LedgerEntry {
  /** Lower-case hex of the serial's bytes, as the certificate has them (`normalizeSerial`). */
  serial: string;
  subject: string;
  /** Issuer's subject key identifier (hex): which CA signed it. */
  issuerKeyId: string;
  issuer: string;
  profile: string;
  notBefore: Date;
  notAfter: Date;
  /** When the holder should renew (a random point between 50% and 80% of the validity). */
  renewAt: Date;
  status: 'issued' | 'revoked';
  revokedAt?: Date;
  revocationReason?: RevocationReason;
  /** The certificate, DER. */
  der: Uint8Array;
}

export interface Ledger {
  /**
   * Records an issued certificate durably. Resolves only once it is on disk; rejects with
   * SERIAL_IN_USE if the serial was ever used before.
   */
  record(entry: Omit<LedgerEntry, 'status'>): Promise<void>;
  get(serial: string): Promise<LedgerEntry | undefined>;
  list(filter?: { issuerKeyId?: string; status?: LedgerEntry['status'] }): Promise<LedgerEntry[]>;
  /** Marks a certificate revoked (idempotent for the same reason); returns it. */
  revoke(serial: string, reason: RevocationReason, at?: Date): Promise<LedgerEntry>;
  /** The next CRL number for an issuer (monotonic, starting at 1). */
  nextCrlNumber(issuerKeyId: string): Promise<number>;
  close(): Promise<void>;
}
