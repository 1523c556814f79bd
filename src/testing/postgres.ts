/**
 * Throw-away PostgreSQL servers (Debian's postgresql) for tests and benchmarks: `initdb` in a
 * temporary directory owned by the unprivileged `postgres` user (PostgreSQL refuses to run as
 * root), listening on 127.0.0.1 at a free port and on a Unix socket in that directory, with a
 * password (SCRAM) for its one superuser. Stopped (fast shutdown) and removed by `stop()`; it can
 * be stopped and started again on the same port and data, as a database restart looks to clients.
 * Needs root (to hand the directory to `postgres`) and `setpriv`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { runCommand, waitUntil, type CommandResult } from './dockerd.js';
import { freePort } from './ports.js';

/** Debian keeps each major version's programs in /usr/lib/postgresql/<major>/bin; the newest is used. */
function binDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const newest = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : join(base, newest, 'bin');
}

/** The uid and gid of the `postgres` user that Debian's package makes. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
}

/** Why a throw-away PostgreSQL cannot run here, or false when it can: a test's `skip`, or `if (why) …`. */
export function postgresUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'a throw-away PostgreSQL needs root (to run it as the postgres user)';
  if (!binDir()) return 'PostgreSQL is not installed (Debian: apt-get install postgresql)';
  if (!postgresUser()) return 'there is no postgres user (Debian: apt-get install postgresql)';
  if (!onPath('setpriv')) return 'setpriv is not installed (Debian: util-linux)';
  return false;
}

export interface Postgres {
  /** The temporary directory: the data directory, the Unix socket, the log. */
  dir: string;
  port: number;
  /** The superuser, its password, and the database made for the caller. */
  user: string;
  password: string;
  database: string;
  /** postgres://USER@127.0.0.1:PORT/DATABASE: no password in it (that goes in `env`). */
  url: string;
  /** PGPASSWORD for this server, over the caller's environment. */
  env: NodeJS.ProcessEnv;
  /** A new database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL with psql as the superuser; its output, or an error with psql's. */
  sql(query: string, database?: string): Promise<string>;
  /** Fast shutdown (clients' sessions are ended), then start again on the same port and data. */
  restart(): Promise<void>;
  /** Fast shutdown, keeping the data: clients find nobody at the port until `start()`. */
  halt(): Promise<void>;
  start(): Promise<void>;
  log(): string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Serve TLS too, with this certificate (chain) and key, PEM. */
  tls?: { cert: string; key: string };
}

export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const why = postgresUnavailable();
  if (why) throw new Error(why);
  const bin = binDir()!;
  const owner = postgresUser()!;
  const dir = mkdtempSync(join(tmpdir(), 'keyward-postgres-'));
  chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const user = 'keyward';
  const password = randomBytes(16).toString('hex');
  const database = 'keyward';
  const port = await freePort();
  const env = { ...process.env, PGPASSWORD: password };
  // As `postgres`, with its own group list: setpriv execs the program itself, so signals reach it.
  const asPostgres = (program: string, args: string[]) => [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--init-groups', '--', join(bin, program), ...args];
  const must = async (what: string, result: Promise<CommandResult>) => {
    const { code, stdout, stderr } = await result;
    if (code !== 0) throw new Error(`${what} failed (${code}): ${stderr}${stdout}`);
    return stdout;
  };

  let log = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const server = spawn(
      'setpriv',
      asPostgres('postgres', [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
        // A test's PostgreSQL may be restarted many times: no need to wait for a long checkpoint.
        '-c',
        'checkpoint_timeout=30s',
        ...(options.tls ? ['-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`] : []),
      ]),
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
    );
    child = server;
    const append = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-1_000_000);
    };
    server.stdout!.on('data', append);
    server.stderr!.on('data', append);
    exited = new Promise<void>((resolve) => server.once('close', () => resolve()));
    await waitUntil(
      'PostgreSQL to accept connections',
      async () => {
        if (server.exitCode !== null) throw new Error(`PostgreSQL exited with ${server.exitCode}; its log ends:\n${log.slice(-3000)}`);
        return (await runCommand(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], env)).code === 0 ? true : undefined;
      },
      60_000,
      100,
    );
  };
  const halt = async () => {
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the data checkpointed.
    if (child && child.exitCode === null) child.kill('SIGINT');
    const kill = setTimeout(() => child?.kill('SIGQUIT'), 30_000);
    await exited;
    clearTimeout(kill);
  };
  const psql = (query: string, db: string) =>
    runCommand(
      join(bin, 'psql'),
      ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', db, '-c', query],
      env,
    );

  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    chownSync(passwordFile, owner.uid, owner.gid);
    await must(
      'initdb',
      runCommand(
        'setpriv',
        asPostgres('initdb', [
          '-D',
          data,
          '-U',
          user,
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
          '--no-instructions',
        ]),
      ),
    );
    rmSync(passwordFile);
    if (options.tls) {
      for (const [name, content] of [
        ['server.crt', options.tls.cert],
        ['server.key', options.tls.key],
      ] as const) {
        writeFileSync(join(dir, name), content, { mode: 0o600 });
        chownSync(join(dir, name), owner.uid, owner.gid);
      }
    }
    chmodSync(dir, 0o700);
    await start();
    await must('createdb', psql(`CREATE DATABASE ${database}`, 'postgres'));
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}${log ? `\nPostgreSQL's log ends:\n${log.slice(-3000)}` : ''}`, { cause: error });
  }
  const urlOf = (db: string) => `postgres://${user}@127.0.0.1:${port}/${db}`;
  return {
    dir,
    port,
    user,
    password,
    database,
    url: urlOf(database),
    env,
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not a plain database name`);
      await must(`CREATE DATABASE ${name}`, psql(`CREATE DATABASE ${name}`, 'postgres'));
      return urlOf(name);
    },
    sql: (query, db = database) => must('psql', psql(query, db)),
    restart: async () => {
      await halt();
      await start();
    },
    halt,
    start,
    log: () => log,
    stop,
  };
}
