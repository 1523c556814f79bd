/**
 * The shared ledger: PostgreSQL through node-postgres, for several CA servers that issue from one
 * ledger. The database keeps the rules one server kept alone: a serial is unique (primary key),
 * a record is committed (synchronous commit) before the caller hears back, a revocation is one
 * atomic update, and each issuer's CRL number is taken under its row's lock, with the revocations
 * read after it, so concurrent CRLs get distinct, increasing numbers and none lists less than an
 * earlier one. Records that arrive together go in one INSERT (one commit); the database decides
 * which serials are new.
 *
 * The schema is versioned (keyward_ledger_schema) and changed only by `migrate` (keyward ca ledger
 * migrate); `open` refuses a schema it does not know. A database that cannot be reached fails each
 * call at once (LEDGER_UNAVAILABLE) and the pool connects afresh on the next call, so a server
 * recovers by itself when the database returns.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import { KeywardError, keywardError } from '../../errors.js';
import {
  entryOf,
  notEmpty,
  storedEntryOf,
  type CertificateRow,
  notIssued,
  serialInUse,
  type CrlContent,
  type Ledger,
  type LedgerContent,
  type LedgerEntry,
  type PendingRecord,
  type RevocationReason,
  type StoredEntry,
} from './ledger.js';
import { describeLocation, tlsOptions, type PostgresLocation } from './location.js';

/** Each migration takes the schema from its index to the next version; never edit one that shipped. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE keyward_certificates (
     serial text PRIMARY KEY,
     subject text NOT NULL,
     issuer text NOT NULL,
     issuer_key_id text NOT NULL,
     profile text NOT NULL,
     not_before timestamptz NOT NULL,
     not_after timestamptz NOT NULL,
     renew_at timestamptz NOT NULL,
     status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'revoked')),
     revoked_at timestamptz,
     revocation_reason text,
     der bytea NOT NULL,
     recorded_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX keyward_certificates_by_issuer ON keyward_certificates (issuer_key_id, status);
   CREATE TABLE keyward_crl_numbers (issuer_key_id text PRIMARY KEY, last bigint NOT NULL CHECK (last > 0));`,
];

/** The schema this Keyward reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Taken by `migrate` for its transaction: two migrations at once run one after the other. */
const MIGRATION_LOCK = 0x6b657977617264; // "keyward"

/** How long a query may take before its caller is answered with an error (a database that stopped answering). */
const QUERY_TIMEOUT_MS = 10_000;
/** Connections per CA server: inserts go in batches, so a few are plenty. */
const POOL_SIZE = 8;
/** Batched inserts in flight at once, and records in one. */
const CONCURRENT_INSERTS = 4;
const MAX_BATCH = 256;

type Row = CertificateRow<Date>;

const asIs = (date: Date) => date;
const entryOfRow = (row: Row): LedgerEntry => entryOf(row, asIs);
const storedOf = (row: Row): StoredEntry => storedEntryOf(row, asIs);

const COLUMNS = 'serial, subject, issuer, issuer_key_id, profile, not_before, not_after, renew_at, status, revoked_at, revocation_reason, der, recorded_at';

/** Many rows in one statement: one array parameter a column. */
const INSERT_STORED = `INSERT INTO keyward_certificates (${COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[],
                       $9::text[], $10::timestamptz[], $11::text[], $12::bytea[], $13::timestamptz[])`;

const INSERT_ISSUED = `INSERT INTO keyward_certificates (serial, subject, issuer, issuer_key_id, profile, not_before, not_after, renew_at, der)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bytea[])
  ON CONFLICT (serial) DO NOTHING RETURNING serial`;

const issuedColumns = (entries: Array<Omit<LedgerEntry, 'status'>>) => [
  entries.map((e) => e.serial),
  entries.map((e) => e.subject),
  entries.map((e) => e.issuer),
  entries.map((e) => e.issuerKeyId),
  entries.map((e) => e.profile),
  entries.map((e) => e.notBefore),
  entries.map((e) => e.notAfter),
  entries.map((e) => e.renewAt),
  entries.map((e) => Buffer.from(e.der)),
];

/** SQLSTATEs of a database that is not there for now: shutting down, starting, out of connections, gone mid-call. */
const UNAVAILABLE_STATES = /^(08|53|57P0[123])/;
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client was closed|connection error/i;

/** Node's codes for a server certificate that does not verify, or does not name the host. */
const TLS_FAILURES = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_)/;

/** What went wrong with the database, in Keyward's terms; a KeywardError passes through. */
function failure(error: unknown, location: PostgresLocation): unknown {
  if (error instanceof KeywardError) return error;
  const { code, message } = error as { code?: string; message?: string };
  const where = describeLocation(location);
  if (code === '28P01' || code === '28000') {
    return keywardError('LEDGER_AUTH_FAILED', `the ledger database at ${where} refused the login${location.user ? ` as ${location.user}` : ''}: ${message}`, {
      cause: error,
      hint: "give the password in PGPASSWORD or a PGPASSFILE (~/.pgpass), and check the server's pg_hba.conf",
    });
  }
  if (code === '42P01') return schemaMissing(location);
  if ((code !== undefined && TLS_FAILURES.test(code)) || /does not support SSL/i.test(message ?? '')) {
    return keywardError('LEDGER_TLS_FAILED', `TLS to the ledger database at ${where} failed (sslmode=${location.sslmode}): ${message ?? code}`, {
      cause: error,
      hint: "check the URL's sslrootcert (the CA the database's certificate chains to) and that the host name is in the database's certificate",
    });
  }
  const systemError = typeof code === 'string' && /^E[A-Z]+$/.test(code);
  if (systemError || (code !== undefined && UNAVAILABLE_STATES.test(code)) || code === '3D000' || UNAVAILABLE_MESSAGES.test(message ?? '')) {
    return keywardError('LEDGER_UNAVAILABLE', `the ledger database at ${where} is unavailable: ${message ?? code}`, {
      cause: error,
      hint: 'nothing was issued or changed; check that the database is running and reachable (CA servers reconnect by themselves)',
    });
  }
  return keywardError('LEDGER_FAILED', `the ledger database at ${where} failed${code ? ` (SQLSTATE ${code})` : ''}: ${message ?? String(error)}`, {
    cause: error,
  });
}

const migrateHint = (location: PostgresLocation) => `keyward ca ledger migrate --ledger '${location.url}'`;

function schemaMissing(location: PostgresLocation) {
  return keywardError('LEDGER_SCHEMA_MISSING', `the database at ${describeLocation(location)} holds no Keyward ledger`, {
    hint: `make its tables first: ${migrateHint(location)}`,
  });
}

/** The password, read as libpq reads it: PGPASSWORD, else the PGPASSFILE (~/.pgpass) line for this server. */
function passwordFor(location: PostgresLocation): () => Promise<string> {
  return async () => {
    if (process.env.PGPASSWORD !== undefined) {
      if (!location.fromFile) return process.env.PGPASSWORD;
      throw keywardError('LEDGER_PASSWORD_SOURCE', `the ledger URL ${location.url} comes from ca.json, a file others may write; PGPASSWORD is not sent to it`, {
        hint: 'give the URL yourself (--ledger or KEYWARD_CA_LEDGER), or put the password in a PGPASSFILE line for that host (host:port:database:user:password), which binds it to the host',
      });
    }
    const lookup = createRequire(import.meta.url)('pgpass') as (
      connection: { host: string; port: number; database?: string; user?: string },
      done: (password: string | undefined) => void,
    ) => void;
    const password = await new Promise<string | undefined>((resolve) =>
      lookup(
        {
          // libpq matches a Unix socket's connection as localhost.
          host: location.host.startsWith('/') ? 'localhost' : location.host,
          port: location.port,
          database: location.database ?? location.user,
          user: location.user ?? process.env.USER,
        },
        resolve,
      ),
    );
    if (password === undefined) {
      throw keywardError('LEDGER_AUTH_FAILED', `the ledger database at ${describeLocation(location)} asks for a password, and none is given`, {
        hint: 'set PGPASSWORD, or add a line for this server to a PGPASSFILE (~/.pgpass, mode 0600): host:port:database:user:password',
      });
    }
    return password;
  };
}

function poolFor(location: PostgresLocation, readOnly: boolean): pg.Pool {
  const pool = new pg.Pool({
    host: location.host,
    port: location.port,
    user: location.user ?? process.env.USER,
    database: location.database ?? location.user ?? process.env.USER,
    password: passwordFor(location),
    ssl: tlsOptions(location),
    application_name: 'keyward-ca',
    max: POOL_SIZE,
    connectionTimeoutMillis: location.connectTimeout * 1000,
    idleTimeoutMillis: 30_000,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // An idle connection the server ended (a restart, a failover): the pool drops it and makes a new one
  // when it is next needed. Without a listener the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

export class PostgresLedger implements Ledger {
  readonly location: PostgresLocation;
  readonly #pool: pg.Pool;
  #pending: PendingRecord[] = [];
  readonly #inserts = new Set<Promise<void>>();

  private constructor(location: PostgresLocation, readOnly: boolean) {
    this.location = location;
    this.#pool = poolFor(location, readOnly);
  }

  /**
   * The ledger at `location`, its schema checked: one this Keyward does not know (not yet made, older,
   * or newer) is refused, saying what to do. With `readOnly`, nothing can be written through it.
   */
  static async open(location: PostgresLocation, options: { readOnly?: boolean } = {}): Promise<PostgresLedger> {
    const ledger = new PostgresLedger(location, options.readOnly ?? false);
    try {
      await ledger.#checkSchema();
      return ledger;
    } catch (error) {
      await ledger.#pool.end();
      throw error;
    }
  }

  /** Brings the database's schema to this Keyward's version; returns the versions before and after. */
  static async migrate(location: PostgresLocation): Promise<{ from: number; to: number }> {
    const ledger = new PostgresLedger(location, false);
    try {
      return await ledger.#transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await client.query('CREATE TABLE IF NOT EXISTS keyward_ledger_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
        const from = Number(
          (await client.query<{ version: number | null }>('SELECT max(version) AS version FROM keyward_ledger_schema')).rows[0]!.version ?? 0,
        );
        if (from > SCHEMA_VERSION) throw ledger.#newer(from);
        for (let version = from; version < SCHEMA_VERSION; version++) {
          await client.query(MIGRATIONS[version]!);
          await client.query('INSERT INTO keyward_ledger_schema (version) VALUES ($1)', [version + 1]);
        }
        return { from, to: SCHEMA_VERSION };
      });
    } finally {
      await ledger.#pool.end();
    }
  }

  #newer(version: number) {
    return keywardError(
      'LEDGER_SCHEMA_NEWER',
      `the ledger at ${describeLocation(this.location)} has schema version ${version}; this Keyward knows up to ${SCHEMA_VERSION}`,
      {
        hint: 'a newer Keyward migrated it: run that version on every CA server of this ledger',
      },
    );
  }

  async #checkSchema(): Promise<void> {
    let version: number;
    try {
      version = Number((await this.#pool.query<{ version: number | null }>('SELECT max(version) AS version FROM keyward_ledger_schema')).rows[0]!.version ?? 0);
    } catch (error) {
      throw failure(error, this.location);
    }
    if (version === 0) throw schemaMissing(this.location);
    if (version > SCHEMA_VERSION) throw this.#newer(version);
    if (version < SCHEMA_VERSION) {
      throw keywardError(
        'LEDGER_SCHEMA_OLD',
        `the ledger at ${describeLocation(this.location)} has schema version ${version}; this Keyward needs ${SCHEMA_VERSION}`,
        {
          hint: `migrate it (the servers of the older version must be stopped first): ${migrateHint(this.location)}`,
        },
      );
    }
  }

  async #query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      throw failure(error, this.location);
    }
  }

  /** Runs `work` in one transaction on one connection; a connection that failed is dropped, not reused. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw failure(error, this.location);
    }
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      client.release(true);
      throw failure(error, this.location);
    }
  }

  record(entry: Omit<LedgerEntry, 'status'>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      this.#pump();
    });
  }

  /** Starts inserts while there are records waiting and room for another insert: what waits meanwhile goes in the next one. */
  #pump(): void {
    while (this.#inserts.size < CONCURRENT_INSERTS && this.#pending.length > 0) {
      const insert = this.#insert(this.#pending.splice(0, MAX_BATCH)).finally(() => {
        this.#inserts.delete(insert);
        this.#pump();
      });
      this.#inserts.add(insert);
    }
  }

  async #insert(batch: PendingRecord[]): Promise<void> {
    // One serial twice in a statement would be inserted once and reported once for both: the second is refused here.
    const serials = new Set<string>();
    const rows = batch.filter((pending) => {
      if (!serials.has(pending.entry.serial)) return serials.add(pending.entry.serial);
      pending.reject(serialInUse(pending.entry.serial));
      return false;
    });
    try {
      const result = await this.#query<{ serial: string }>(INSERT_ISSUED, issuedColumns(rows.map((p) => p.entry)));
      const inserted = new Set(result.rows.map((row) => row.serial));
      for (const pending of rows) (inserted.has(pending.entry.serial) ? pending.resolve : () => pending.reject(serialInUse(pending.entry.serial)))();
    } catch (error) {
      for (const pending of rows) pending.reject(error);
    }
  }

  async get(serial: string): Promise<LedgerEntry | undefined> {
    const row = (await this.#query<Row>('SELECT * FROM keyward_certificates WHERE serial = $1', [serial])).rows[0];
    return row ? entryOfRow(row) : undefined;
  }

  async list(filter: { issuerKeyId?: string; status?: LedgerEntry['status'] } = {}): Promise<LedgerEntry[]> {
    return (await this.#rows(this.#pool, filter)).map(entryOfRow);
  }

  async #rows(on: pg.Pool | pg.PoolClient, filter: { issuerKeyId?: string; status?: LedgerEntry['status'] } = {}): Promise<Row[]> {
    const text = `SELECT * FROM keyward_certificates WHERE ($1::text IS NULL OR issuer_key_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY recorded_at, serial`;
    const values = [filter.issuerKeyId ?? null, filter.status ?? null];
    if (on !== this.#pool) return (await on.query<Row>(text, values)).rows;
    return (await this.#query<Row>(text, values)).rows;
  }

  async revoke(serial: string, reason: RevocationReason, at: Date = new Date()): Promise<LedgerEntry> {
    // One statement: whichever server revokes first sets the reason; the others find it revoked.
    const updated = await this.#query<Row>(
      `UPDATE keyward_certificates SET status = 'revoked', revoked_at = $2, revocation_reason = $3 WHERE serial = $1 AND status = 'issued' RETURNING *`,
      [serial, at, reason],
    );
    if (updated.rows[0]) return entryOfRow(updated.rows[0]);
    const existing = await this.get(serial);
    if (!existing) throw notIssued(serial);
    return existing;
  }

  nextCrl(issuerKeyId: string): Promise<CrlContent> {
    return this.#transaction(async (client) => {
      // The row lock is held to the commit: a second server waits here, then reads what the first one read, and more.
      const { last } = (
        await client.query<{ last: string }>(
          `INSERT INTO keyward_crl_numbers (issuer_key_id, last) VALUES ($1, 1)
           ON CONFLICT (issuer_key_id) DO UPDATE SET last = keyward_crl_numbers.last + 1 RETURNING last`,
          [issuerKeyId],
        )
      ).rows[0]!;
      const revoked = await this.#rows(client, { issuerKeyId, status: 'revoked' });
      return { number: Number(last), revoked: revoked.map(entryOfRow) };
    });
  }

  dump(): Promise<LedgerContent> {
    return this.#transaction(async (client) => {
      const certificates = (await this.#rows(client)).map(storedOf);
      const numbers = await client.query<{ issuer_key_id: string; last: string }>('SELECT issuer_key_id, last FROM keyward_crl_numbers ORDER BY issuer_key_id');
      return { certificates, crlNumbers: numbers.rows.map((row) => ({ issuerKeyId: row.issuer_key_id, last: Number(row.last) })) };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  load(content: LedgerContent): Promise<void> {
    return this.#transaction(async (client) => {
      // No server records meanwhile: the emptiness checked is the emptiness filled.
      await client.query('LOCK TABLE keyward_certificates, keyward_crl_numbers IN EXCLUSIVE MODE');
      const held = await client.query<{ n: string }>('SELECT (SELECT count(*) FROM keyward_certificates) + (SELECT count(*) FROM keyward_crl_numbers) AS n');
      if (Number(held.rows[0]!.n) > 0) throw notEmpty(`the ledger at ${describeLocation(this.location)} already holds certificates or CRL numbers`);
      for (let i = 0; i < content.certificates.length; i += 1000) {
        const chunk = content.certificates.slice(i, i + 1000);
        await client.query(INSERT_STORED, [
          ...issuedColumns(chunk).slice(0, 8),
          chunk.map((e) => e.status),
          chunk.map((e) => e.revokedAt ?? null),
          chunk.map((e) => e.revocationReason ?? null),
          chunk.map((e) => Buffer.from(e.der)),
          chunk.map((e) => e.recordedAt),
        ]);
      }
      for (const { issuerKeyId, last } of content.crlNumbers) {
        await client.query('INSERT INTO keyward_crl_numbers (issuer_key_id, last) VALUES ($1, $2)', [issuerKeyId, last]);
      }
    });
  }

  async close(): Promise<void> {
    // Records already handed over are committed (or fail) before the connections go.
    this.#pump();
    while (this.#inserts.size > 0) await Promise.allSettled([...this.#inserts]);
    await this.#pool.end();
  }
}
