/**
 * The embedded ledger: SQLite through better-sqlite3, WAL with synchronous=FULL so a record is on
 * disk when its commit returns. Records that arrive together are committed together (group
 * commit): each caller still hears back only after its record is durable.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import {
  entryOf,
  notEmpty,
  notIssued,
  serialInUse,
  storedEntryOf,
  type CertificateRow,
  type CrlContent,
  type Ledger,
  type LedgerContent,
  type LedgerEntry,
  type PendingRecord,
  type RevocationReason,
  type StoredEntry,
} from './ledger.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS certificates (
  serial TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  issuer TEXT NOT NULL,
  issuer_key_id TEXT NOT NULL,
  profile TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  renew_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('issued', 'revoked')),
  revoked_at INTEGER,
  revocation_reason TEXT,
  der BLOB NOT NULL,
  recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_by_issuer ON certificates (issuer_key_id, status);
CREATE TABLE IF NOT EXISTS crl_numbers (issuer_key_id TEXT PRIMARY KEY, last INTEGER NOT NULL);
`;

type Row = CertificateRow<number>;

const fromMs = (ms: number) => new Date(ms);
const fromRow = (row: Row): StoredEntry => storedEntryOf(row, fromMs);
const entryOfRow = (row: Row): LedgerEntry => entryOf(row, fromMs);

export class SqliteLedger implements Ledger {
  readonly path: string;
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement;
  #pending: PendingRecord[] = [];
  #flushScheduled = false;

  private constructor(path: string, readOnly: boolean) {
    this.path = path;
    if (readOnly) {
      // Read-write with every write refused, not SQLite's read-only mode: a read-only connection to
      // a WAL database leaves -wal and -shm files behind, which this one removes as it closes.
      this.#db = new Database(path, { fileMustExist: true });
      this.#db.pragma('query_only = ON');
    } else {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.exec(SCHEMA);
      // Ledgers written before serials kept their leading zero (a1b… for the certificate's 0a1b…).
      this.#db.exec(`UPDATE certificates SET serial = '0' || serial WHERE length(serial) % 2 = 1`);
    }
    this.#db.pragma('busy_timeout = 5000');
    this.#insert = this.#db.prepare(
      `INSERT INTO certificates (serial, subject, issuer, issuer_key_id, profile, not_before, not_after, renew_at, status, der, recorded_at)
       VALUES (@serial, @subject, @issuer, @issuerKeyId, @profile, @notBefore, @notAfter, @renewAt, 'issued', @der, @recordedAt)`,
    );
  }

  /** The ledger at `path`, made if need be; with `readOnly`, an existing one that nothing is written to. */
  static open(path: string, options: { readOnly?: boolean } = {}): SqliteLedger {
    return new SqliteLedger(path, options.readOnly ?? false);
  }

  record(entry: Omit<LedgerEntry, 'status'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    const now = Date.now();
    let outcomes: Array<unknown>;
    try {
      // One transaction, one fsync; a failing row (a reused serial) fails alone.
      outcomes = this.#db.transaction(() =>
        batch.map(({ entry }) => {
          try {
            this.#insert.run({
              serial: entry.serial,
              subject: entry.subject,
              issuer: entry.issuer,
              issuerKeyId: entry.issuerKeyId,
              profile: entry.profile,
              notBefore: entry.notBefore.getTime(),
              notAfter: entry.notAfter.getTime(),
              renewAt: entry.renewAt.getTime(),
              der: Buffer.from(entry.der),
              recordedAt: now,
            });
            return undefined;
          } catch (error) {
            return (error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? serialInUse(entry.serial) : error;
          }
        }),
      )();
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => (outcomes[i] === undefined ? pending.resolve() : pending.reject(outcomes[i])));
  }

  async get(serial: string): Promise<LedgerEntry | undefined> {
    const row = this.#db.prepare('SELECT * FROM certificates WHERE serial = ?').get(serial) as Row | undefined;
    return row ? entryOfRow(row) : undefined;
  }

  async list(filter: { issuerKeyId?: string; status?: LedgerEntry['status'] } = {}): Promise<LedgerEntry[]> {
    return this.#rows(filter).map(entryOfRow);
  }

  #rows(filter: { issuerKeyId?: string; status?: LedgerEntry['status'] } = {}): Row[] {
    return this.#db
      .prepare(
        `SELECT * FROM certificates WHERE (@issuer IS NULL OR issuer_key_id = @issuer) AND (@status IS NULL OR status = @status) ORDER BY recorded_at, serial`,
      )
      .all({ issuer: filter.issuerKeyId ?? null, status: filter.status ?? null }) as Row[];
  }

  async revoke(serial: string, reason: RevocationReason, at: Date = new Date()): Promise<LedgerEntry> {
    const existing = await this.get(serial);
    if (!existing) throw notIssued(serial);
    if (existing.status === 'revoked') return existing;
    this.#db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ?`).run(at.getTime(), reason, serial);
    return (await this.get(serial))!;
  }

  async nextCrl(issuerKeyId: string): Promise<CrlContent> {
    // IMMEDIATE: the number and the revocations are read under one write lock, as another process sees neither half.
    return this.#db
      .transaction(() => {
        this.#db
          .prepare('INSERT INTO crl_numbers (issuer_key_id, last) VALUES (?, 1) ON CONFLICT (issuer_key_id) DO UPDATE SET last = last + 1')
          .run(issuerKeyId);
        const { last } = this.#db.prepare('SELECT last FROM crl_numbers WHERE issuer_key_id = ?').get(issuerKeyId) as { last: number };
        return { number: last, revoked: this.#rows({ issuerKeyId, status: 'revoked' }).map(entryOfRow) };
      })
      .immediate();
  }

  async dump(): Promise<LedgerContent> {
    return this.#db
      .transaction(() => ({
        certificates: this.#rows().map(fromRow),
        crlNumbers: (
          this.#db.prepare('SELECT issuer_key_id, last FROM crl_numbers ORDER BY issuer_key_id').all() as Array<{ issuer_key_id: string; last: number }>
        ).map((row) => ({ issuerKeyId: row.issuer_key_id, last: row.last })),
      }))
      .deferred();
  }

  async load(content: LedgerContent): Promise<void> {
    const insertNumber = this.#db.prepare('INSERT INTO crl_numbers (issuer_key_id, last) VALUES (?, ?)');
    const insert = this.#db.prepare(
      `INSERT INTO certificates (serial, subject, issuer, issuer_key_id, profile, not_before, not_after, renew_at, status, revoked_at, revocation_reason, der, recorded_at)
       VALUES (@serial, @subject, @issuer, @issuerKeyId, @profile, @notBefore, @notAfter, @renewAt, @status, @revokedAt, @revocationReason, @der, @recordedAt)`,
    );
    this.#db
      .transaction(() => {
        const held = (this.#db.prepare('SELECT (SELECT count(*) FROM certificates) + (SELECT count(*) FROM crl_numbers) AS n').get() as { n: number }).n;
        if (held > 0) throw notEmpty(`the ledger ${this.path} already holds certificates or CRL numbers`);
        for (const entry of content.certificates) {
          insert.run({
            ...entry,
            notBefore: entry.notBefore.getTime(),
            notAfter: entry.notAfter.getTime(),
            renewAt: entry.renewAt.getTime(),
            revokedAt: entry.revokedAt?.getTime() ?? null,
            revocationReason: entry.revocationReason ?? null,
            der: Buffer.from(entry.der),
            recordedAt: entry.recordedAt.getTime(),
          });
        }
        for (const { issuerKeyId, last } of content.crlNumbers) insertNumber.run(issuerKeyId, last);
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.#pending.length) this.#flush();
    this.#db.close();
  }
}
