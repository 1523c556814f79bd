/**
 * The embedded ledger: SQLite through better-sqlite3 in WAL mode. Records that arrive together are
 * committed together (group commit), and each caller hears back only once its record is on disk.
 *
 * Not with synchronous=FULL, whose fdatasync of the WAL (2–4 ms here) ran inside every commit on
 * the event loop, so that a CA server stood still for it: the connection commits with
 * synchronous=NORMAL (SQLite writes the WAL frames, and syncs before and after each checkpoint),
 * and then the WAL file itself is fdatasync'd off the event loop (libuv's thread pool), once for
 * every commit made before that sync began. Once it returns, the commit frames are on disk and
 * SQLite's recovery replays them after a power loss, as after a FULL commit. SQLite removes the
 * WAL only when the last connection closes or the journal mode changes, so this connection's
 * descriptor stays the WAL's while it is open. Several processes may write at once (each syncs
 * what it committed; the write lock is held for the commit alone); revocations, CRL numbers and
 * imports wait for the same sync before they return.
 */
import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { keywardError } from '../../errors.js';
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

/** How long a write waits for another process's write lock (busy_timeout, and #waitForLock). */
const LOCK_WAIT_MS = 5_000;

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
  /** Inserts a batch in one transaction: each record's outcome, undefined when it went in. */
  readonly #insertAll: BetterSqlite3.Transaction<(batch: PendingRecord[], now: number) => unknown[]>;
  #pending: PendingRecord[] = [];
  #flushScheduled = false;
  /** A batch waiting for another process's write lock: when it will be tried again, and since when it waits. */
  #lockWait: NodeJS.Timeout | undefined;
  #lockedSince: number | undefined;
  /** Closing: what is left is written waiting for the lock in SQLite (the loop has nothing else to do). */
  #closing = false;
  /** The WAL file, to sync what was committed (undefined for a read-only ledger). */
  readonly #wal: number | undefined;
  /** The WAL sync under way, and the one queued for commits made since it began. */
  #syncing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

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
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(SCHEMA);
      // Ledgers written before serials kept their leading zero (a1b… for the certificate's 0a1b…).
      this.#db.exec(`UPDATE certificates SET serial = '0' || serial WHERE length(serial) % 2 = 1`);
      this.#wal = openSync(`${path}-wal`, 'r');
      // The WAL's name in its directory must survive a power loss too (SQLite syncs the directory only when it syncs).
      const directory = openSync(dirname(path), 'r');
      try {
        fsyncSync(this.#wal);
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    }
    this.#db.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    this.#insert = this.#db.prepare(
      `INSERT INTO certificates (serial, subject, issuer, issuer_key_id, profile, not_before, not_after, renew_at, status, der, recorded_at)
       VALUES (@serial, @subject, @issuer, @issuerKeyId, @profile, @notBefore, @notAfter, @renewAt, 'issued', @der, @recordedAt)`,
    );
    this.#insertAll = this.#db.transaction((batch: PendingRecord[], now: number) =>
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
            der: Buffer.from(entry.der.buffer, entry.der.byteOffset, entry.der.byteLength),
            recordedAt: now,
          });
          return undefined;
        } catch (error) {
          return (error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? serialInUse(entry.serial) : error;
        }
      }),
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

  /**
   * Resolves once everything this connection committed so far is on disk: one fdatasync of the WAL
   * serves every commit made before it began; a commit made while one runs waits for the next.
   */
  #durable(): Promise<void> {
    if (this.#wal === undefined) return Promise.resolve();
    if (this.#queued) return this.#queued;
    const start = (): Promise<void> => {
      this.#queued = undefined;
      const sync = new Promise<void>((resolve, reject) =>
        fdatasync(this.#wal!, (error) =>
          error
            ? reject(
                keywardError('LEDGER_FAILED', `the ledger ${this.path} could not be written to disk: ${error.message}`, {
                  cause: error,
                  hint: 'check the disk and the file system it is on; nothing was handed out',
                }),
              )
            : resolve(),
        ),
      ).finally(() => {
        if (this.#syncing === sync) this.#syncing = undefined;
        this.#flush(); // what arrived meanwhile
      });
      this.#syncing = sync;
      return sync;
    };
    if (!this.#syncing) return start();
    this.#queued = this.#syncing.then(start, start);
    return this.#queued;
  }

  /** Runs a write, and resolves with its result once it is on disk. */
  async #write<T>(write: () => T): Promise<T> {
    const result = write();
    await this.#durable();
    return result;
  }

  #flush(): void {
    this.#flushScheduled = false;
    // Records that arrive while the WAL is being synced could not be synced before the next sync
    // anyway: they are committed together when this one ends (#durable), one transaction a sync.
    if (this.#syncing || this.#lockWait || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const now = Date.now();
    let outcomes: Array<unknown>;
    try {
      // One transaction (its WAL synced with others' by #durable); a failing row (a reused serial) fails alone.
      // Another process holding the write lock is waited for off the event loop (#waitForLock), not in SQLite's busy handler.
      if (this.#closing) outcomes = this.#insertAll.immediate(batch, now);
      else {
        this.#db.pragma('busy_timeout = 0');
        try {
          outcomes = this.#insertAll.immediate(batch, now);
        } finally {
          this.#db.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
        }
      }
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') return this.#waitForLock(batch);
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#lockedSince = undefined;
    batch.forEach((pending, i) => outcomes[i] !== undefined && pending.reject(outcomes[i]));
    const committed = batch.filter((_, i) => outcomes[i] === undefined);
    if (committed.length === 0) return;
    this.#durable().then(
      () => committed.forEach((pending) => pending.resolve()),
      (error: unknown) => committed.forEach((pending) => pending.reject(error)),
    );
  }

  /**
   * Another process (a worker of the same server, `keyward ca revoke`) holds the write lock: the
   * batch is tried again shortly, while this process goes on with its requests. SQLite's own busy
   * handler would sleep on the event loop, in steps of up to 100 ms. Given up after LOCK_WAIT_MS.
   */
  #waitForLock(batch: PendingRecord[]): void {
    this.#pending = [...batch, ...this.#pending];
    this.#lockedSince ??= Date.now();
    if (this.#closing || Date.now() - this.#lockedSince > LOCK_WAIT_MS) {
      this.#lockedSince = undefined;
      const failed = this.#pending.splice(0);
      const error = keywardError('LEDGER_UNAVAILABLE', `the ledger ${this.path} stayed locked by another process for ${LOCK_WAIT_MS / 1000} s`, {
        hint: 'another program holds a long write transaction on it; nothing was issued',
      });
      for (const pending of failed) pending.reject(error);
      return;
    }
    this.#lockWait = setTimeout(() => {
      this.#lockWait = undefined;
      this.#flush();
    }, 1);
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
    await this.#write(() =>
      this.#db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ?`).run(at.getTime(), reason, serial),
    );
    return (await this.get(serial))!;
  }

  async nextCrl(issuerKeyId: string): Promise<CrlContent> {
    // IMMEDIATE: the number and the revocations are read under one write lock, as another process sees neither half.
    return this.#write(() =>
      this.#db
        .transaction(() => {
          this.#db
            .prepare('INSERT INTO crl_numbers (issuer_key_id, last) VALUES (?, 1) ON CONFLICT (issuer_key_id) DO UPDATE SET last = last + 1')
            .run(issuerKeyId);
          const { last } = this.#db.prepare('SELECT last FROM crl_numbers WHERE issuer_key_id = ?').get(issuerKeyId) as { last: number };
          return { number: last, revoked: this.#rows({ issuerKeyId, status: 'revoked' }).map(entryOfRow) };
        })
        .immediate(),
    );
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
    await this.#write(() =>
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
        .immediate(),
    );
  }

  /** Closes, once the records handed in are on disk; closing again does nothing. */
  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#closing = true;
    clearTimeout(this.#lockWait);
    this.#lockWait = undefined;
    this.#flush();
    // Each sync commits what waited for it and starts another: until nothing is left.
    while (this.#syncing || this.#queued) await Promise.allSettled([this.#syncing, this.#queued]);
    if (!this.#db.open) return;
    this.#db.close();
    if (this.#wal !== undefined) closeSync(this.#wal);
  }
}
