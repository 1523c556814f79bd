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

/** An entry as the ledger keeps it: with the time it was recorded (what export and import move). */
export interface StoredEntry extends LedgerEntry {
  recordedAt: Date;
}

/** Everything a ledger holds: its certificates and, by issuer, the last CRL number given out. */
export interface LedgerContent {
  certificates: StoredEntry[];
  crlNumbers: Array<{ issuerKeyId: string; last: number }>;
}

/** A row of the certificates table, as each database gives it back: its times in the database's form `T`. */
export interface CertificateRow<T> {
  serial: string;
  subject: string;
  issuer: string;
  issuer_key_id: string;
  profile: string;
  not_before: T;
  not_after: T;
  renew_at: T;
  status: 'issued' | 'revoked';
  revoked_at: T | null;
  revocation_reason: RevocationReason | null;
  der: Buffer;
  recorded_at: T;
}

/** A row as the ledger hands it out, its times read with `date`. */
export function storedEntryOf<T>(row: CertificateRow<T>, date: (value: T) => Date): StoredEntry {
  return {
    serial: row.serial,
    subject: row.subject,
    issuer: row.issuer,
    issuerKeyId: row.issuer_key_id,
    profile: row.profile,
    notBefore: date(row.not_before),
    notAfter: date(row.not_after),
    renewAt: date(row.renew_at),
    status: row.status,
    ...(row.revoked_at !== null ? { revokedAt: date(row.revoked_at), revocationReason: row.revocation_reason ?? 'unspecified' } : {}),
    der: new Uint8Array(row.der),
    recordedAt: date(row.recorded_at),
  };
}

/** The same without the time it was recorded: what callers other than export see. */
export function entryOf<T>(row: CertificateRow<T>, date: (value: T) => Date): LedgerEntry {
  const { recordedAt: _recorded, ...entry } = storedEntryOf(row, date);
  return entry;
}

/** A record handed to a ledger that commits records in groups, and whoever waits to hear it is durable. */
export interface PendingRecord {
  entry: Omit<LedgerEntry, 'status'>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What a CRL signed now lists, under the number it carries. */
export interface CrlContent {
  number: number;
  revoked: LedgerEntry[];
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
  /**
   * The next CRL of an issuer: its number (monotonic, starting at 1, never given out twice, also
   * to CA servers that ask at once) and the certificates it revoked, read after the number was
   * taken, so a CRL lists everything that any lower-numbered one lists, and every revocation
   * committed before it was asked for.
   */
  nextCrl(issuerKeyId: string): Promise<CrlContent>;
  /** Everything in it, in the order it was recorded. */
  dump(): Promise<LedgerContent>;
  /** Fills an empty ledger with `content`, all or nothing; refuses (LEDGER_NOT_EMPTY) one that holds anything. */
  load(content: LedgerContent): Promise<void>;
  close(): Promise<void>;
}

/** A ledger that an import would mix with what it holds already; `what` says what it holds. */
export function notEmpty(what: string) {
  return keywardError('LEDGER_NOT_EMPTY', `${what}; an import fills an empty ledger only`, {
    hint: 'import into a new database (after keyward ca ledger migrate) or a CA directory without a ledger.sqlite',
  });
}

/** A serial the ledger already holds: the certificate signed with it must not be handed out. */
export function serialInUse(serial: string) {
  return keywardError('SERIAL_IN_USE', `serial ${serial} was used before; a serial is never issued twice`);
}

/** A serial this CA never issued. */
export function notIssued(serial: string) {
  return keywardError('CERTIFICATE_NOT_FOUND', `no certificate with serial ${serial} was issued by this CA`, {
    hint: 'keyward ca status lists the issued certificates',
  });
}
