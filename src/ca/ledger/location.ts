/**
 * Where a CA's ledger is: `sqlite` (the CA directory's ledger.sqlite, the embedded default) or a
 * PostgreSQL database, `postgres://USER@HOST:PORT/DB`, that several CA servers share. The URL
 * never carries the password: it is read as libpq reads it, from PGPASSWORD or the PGPASSFILE
 * (~/.pgpass), so it stays out of argv, shell history and ca.json. TLS to the database is what
 * the URL's `sslmode` asks for, checked as libpq checks it.
 */
import { readFileSync } from 'node:fs';
import { fileProblem, keywardError } from '../../errors.js';
import { quoted } from '../../quoted.js';

export interface PostgresLocation {
  kind: 'postgres';
  /** The URL as given (it holds no secret). */
  url: string;
  /** A host name or address, or a directory holding the server's Unix socket. */
  host: string;
  port: number;
  user?: string;
  database?: string;
  sslmode: SslMode;
  /** With verify-ca and verify-full: the CA certificates (PEM file) the server's must chain to. */
  sslrootcert?: string;
  /** Seconds to wait for a connection (libpq's connect_timeout); default 5. */
  connectTimeout: number;
  /**
   * Read from ca.json, a file others may write, not given by the operator: such a URL could point
   * at anyone's server, so it gets no PGPASSWORD, only a PGPASSFILE line bound to its host.
   */
  fromFile?: boolean;
}

export type LedgerLocation = { kind: 'sqlite' } | PostgresLocation;

/**
 * libpq's modes that Keyward follows: no TLS, TLS without checking the server, TLS to a server
 * whose certificate chains to `sslrootcert`, and that plus its name. `allow` and `prefer` fall back
 * to plain text when the server has no TLS, so a URL that says them is refused.
 */
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

const PARAMETERS = new Set(['sslmode', 'sslrootcert', 'host', 'connect_timeout']);

const EXAMPLE = 'postgres://keyward@db.example:5432/keyward_ca?sslmode=verify-full&sslrootcert=/etc/keyward/db-ca.pem';

/** A ledger location as typed (--ledger, KEYWARD_CA_LEDGER) or read (ca.json's "ledger"). */
export function parseLedgerLocation(text: string, from = '--ledger', options: { fromFile?: boolean } = {}): LedgerLocation {
  if (text === 'sqlite') return { kind: 'sqlite' };
  const invalid = (problem: string, hint = `a ledger is "sqlite" or a URL such as ${EXAMPLE}`) =>
    keywardError('LEDGER_URL_INVALID', `${from}: ${problem}`, { hint });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${quoted(text, 80)} is neither "sqlite" nor a URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalid(`${quoted(url.protocol.replace(/:$/, ''))} ledgers are not supported (only "sqlite" and postgres://)`);
  }
  // Checked before anything else is said about the URL, so that no message repeats it.
  if (url.password !== '') {
    throw keywardError('LEDGER_URL_PASSWORD', `${from}: the ledger's URL holds a password; Keyward refuses to read one there`, {
      hint: 'remove it from the URL (postgres://USER@HOST:PORT/DB) and give it in PGPASSWORD or a PGPASSFILE (~/.pgpass, mode 0600)',
    });
  }
  const unknown = [...url.searchParams.keys()].find((key) => !PARAMETERS.has(key));
  if (unknown !== undefined) throw invalid(`the URL parameter ${quoted(unknown)} is not one Keyward reads (it reads: ${[...PARAMETERS].join(', ')})`);
  const sslmode = url.searchParams.get('sslmode') ?? 'disable';
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw invalid(
      `sslmode=${quoted(sslmode)} is not one Keyward follows (${SSL_MODES.join(', ')})`,
      'allow and prefer would fall back to plain text: say require, verify-ca or verify-full for TLS, or disable',
    );
  }
  const sslrootcert = url.searchParams.get('sslrootcert') ?? undefined;
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && sslrootcert === undefined) {
    throw invalid(`sslmode=${sslmode} needs sslrootcert=FILE: the CA certificates the database's certificate must chain to`);
  }
  const socketDir = url.searchParams.get('host') ?? undefined;
  const host = socketDir ?? decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (host === '') throw invalid('the URL names no host (postgres://USER@HOST:PORT/DB, or ?host=/socket/directory)');
  const port = url.port === '' ? 5432 : Number(url.port);
  const timeout = url.searchParams.get('connect_timeout');
  const connectTimeout = timeout === null ? 5 : Number(timeout);
  if (!Number.isInteger(connectTimeout) || connectTimeout < 1 || connectTimeout > 300) {
    throw invalid(`connect_timeout=${quoted(timeout ?? '')} is not a whole number of seconds from 1 to 300`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    kind: 'postgres',
    url: text,
    host,
    port,
    ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
    ...(database ? { database } : {}),
    sslmode,
    ...(sslrootcert !== undefined ? { sslrootcert } : {}),
    connectTimeout,
    ...(options.fromFile ? { fromFile: true } : {}),
  } as PostgresLocation;
}

/** How a location is shown: the URL (it has no password), or the SQLite file. */
export function describeLocation(location: PostgresLocation): string {
  return `${location.host}${location.host.startsWith('/') ? '' : `:${location.port}`}/${location.database ?? location.user ?? ''}`;
}

/** Node's TLS options for a location's sslmode (false: no TLS). */
export function tlsOptions(location: PostgresLocation): false | { rejectUnauthorized: boolean; ca?: string; checkServerIdentity?: () => undefined } {
  switch (location.sslmode) {
    case 'disable':
      return false;
    case 'require':
      // libpq's require: encrypted, the server not checked (without a root certificate).
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full': {
      let ca: string;
      try {
        ca = readFileSync(location.sslrootcert!, 'utf8');
      } catch (error) {
        throw keywardError('LEDGER_URL_INVALID', `cannot read the ledger's sslrootcert ${location.sslrootcert}: ${fileProblem(error)}`, { cause: error });
      }
      return location.sslmode === 'verify-ca' ? { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: true, ca };
    }
  }
}
