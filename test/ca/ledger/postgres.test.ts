/**
 * The PostgreSQL ledger against a real PostgreSQL (started by the harness): the rules every ledger
 * keeps, the schema checked and migrated, CRL numbers from several servers at once, a password
 * never in a URL, a database that goes away and comes back.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ledger } from '../../../src/ca/ledger/ledger.js';
import { parseLedgerLocation, type PostgresLocation } from '../../../src/ca/ledger/location.js';
import { PostgresLedger, SCHEMA_VERSION } from '../../../src/ca/ledger/postgres.js';
import { AuthError, ConflictError, NotFoundError, UnavailableError, UsageError } from '../../../src/errors.js';
import { startPostgres } from '../../../src/testing/postgres.js';
import { checkLedgerRules, sampleEntry } from '../../harness/ledger.js';
import { postgresForFile } from '../../harness/postgres.js';
import { run } from '../../harness/run.js';
import { tempDir } from '../../harness/temp.js';

const postgres = postgresForFile(test);
const why = postgres.why;
let databases = 0;

/** A new database for one test, migrated unless asked not to. */
async function database(options: { migrate?: boolean } = {}): Promise<PostgresLocation> {
  const location = parseLedgerLocation(await postgres.server.createDatabase(`ledger_${++databases}`)) as PostgresLocation;
  if (options.migrate ?? true) await PostgresLedger.migrate(location);
  return location;
}

const pgTest = why ? test.skip : test.serial;

pgTest('the harness runs PostgreSQL as the postgres user in a directory of its own, and removes it when stopped', async (t) => {
  const other = await startPostgres();
  t.true(existsSync(other.dir));
  t.is((await other.sql('SELECT current_user')).trim(), 'keyward');
  t.regex(await other.sql("SELECT setting FROM pg_settings WHERE name = 'unix_socket_directories'"), new RegExp(other.dir));
  await other.restart();
  t.is((await other.sql('SELECT 1')).trim(), '1', 'it serves again after a restart, on the same port');
  await other.stop();
  t.false(existsSync(other.dir));
});

pgTest('the PostgreSQL ledger keeps the rules every ledger keeps', async (t) => {
  const location = await database();
  await checkLedgerRules(t, () => PostgresLedger.open(location));
});

pgTest('a database without the schema, or with a newer one, is refused with what to do; migrate makes it, and again changes nothing', async (t) => {
  const location = await database({ migrate: false });
  const missing = await t.throwsAsync(PostgresLedger.open(location), { instanceOf: NotFoundError, code: 'LEDGER_SCHEMA_MISSING' });
  t.regex(missing?.hint ?? '', /keyward ca ledger migrate --ledger/);
  t.deepEqual(await PostgresLedger.migrate(location), { from: 0, to: SCHEMA_VERSION });
  t.deepEqual(await PostgresLedger.migrate(location), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  await (await PostgresLedger.open(location)).close();
  await postgres.server.sql(`INSERT INTO keyward_ledger_schema (version) VALUES (${SCHEMA_VERSION + 1})`, location.database);
  const newer = await t.throwsAsync(PostgresLedger.open(location), { instanceOf: ConflictError, code: 'LEDGER_SCHEMA_NEWER' });
  t.regex(newer?.message ?? '', new RegExp(`schema version ${SCHEMA_VERSION + 1}; this Keyward knows up to ${SCHEMA_VERSION}`));
  await t.throwsAsync(PostgresLedger.migrate(location), { code: 'LEDGER_SCHEMA_NEWER' }, 'nor does it migrate one it does not know');
});

pgTest('a password in the URL is refused, the password comes from PGPASSWORD or a PGPASSFILE, a wrong one is named', async (t) => {
  const error = t.throws(() => parseLedgerLocation(`postgres://keyward:hunter2@127.0.0.1:${postgres.server.port}/keyward`), { instanceOf: UsageError });
  t.is(error?.code, 'LEDGER_URL_PASSWORD');
  t.false(error?.message.includes('hunter2'), 'the message does not repeat the password');
  t.throws(() => parseLedgerLocation('postgres://keyward@127.0.0.1/keyward?sslmode=prefer'), { code: 'LEDGER_URL_INVALID', message: /sslmode="prefer"/ });
  t.throws(() => parseLedgerLocation('postgres://keyward@127.0.0.1/keyward?sslmode=verify-full'), { code: 'LEDGER_URL_INVALID', message: /sslrootcert/ });
  t.throws(() => parseLedgerLocation('postgres://keyward@127.0.0.1/keyward?password=x'), { code: 'LEDGER_URL_INVALID', message: /"password" is not one/ });
  t.throws(() => parseLedgerLocation('mysql://keyward@127.0.0.1/keyward'), { code: 'LEDGER_URL_INVALID' });

  const location = await database();
  const saved = process.env.PGPASSWORD;
  try {
    process.env.PGPASSWORD = 'wrong';
    await t.throwsAsync(PostgresLedger.open(location), { instanceOf: AuthError, code: 'LEDGER_AUTH_FAILED', message: /refused the login as keyward/ });
    delete process.env.PGPASSWORD;
    const passFile = join(tempDir(t, 'keyward-pgpass-'), 'pgpass');
    process.env.PGPASSFILE = passFile;
    await t.throwsAsync(PostgresLedger.open(location), { instanceOf: AuthError, code: 'LEDGER_AUTH_FAILED', message: /none is given/ });
    writeFileSync(passFile, `127.0.0.1:${postgres.server.port}:${location.database}:keyward:${postgres.server.password}\n`, { mode: 0o600 });
    await (await PostgresLedger.open(location)).close();
    t.pass('the PGPASSFILE line for this server is used');
    // A URL from ca.json (anyone who can write the CA directory could name their own server there)
    // gets no PGPASSWORD; the PGPASSFILE line, bound to its host, still serves it.
    const fromFile = { ...location, fromFile: true };
    process.env.PGPASSWORD = postgres.server.password;
    await t.throwsAsync(PostgresLedger.open(fromFile), { instanceOf: AuthError, code: 'LEDGER_PASSWORD_SOURCE', message: /comes from ca\.json/ });
    delete process.env.PGPASSWORD;
    await (await PostgresLedger.open(fromFile)).close();
  } finally {
    process.env.PGPASSWORD = saved;
    delete process.env.PGPASSFILE;
  }
});

pgTest('CRLs numbered by several servers at once: distinct, increasing, and none lists less than a lower-numbered one', async (t) => {
  const location = await database();
  const servers: Ledger[] = await Promise.all([1, 2, 3].map(() => PostgresLedger.open(location)));
  const writer = servers[0]!;
  for (let i = 0; i < 40; i++) await writer.record(sampleEntry(`c${String(i).padStart(3, '0')}`));
  // Revocations go on while three servers sign CRLs as fast as they can.
  const revoking = (async () => {
    for (let i = 0; i < 40; i++) await servers[i % 3]!.revoke(`c${String(i).padStart(3, '0')}`, 'superseded');
  })();
  const crls = (
    await Promise.all(
      servers.map(async (server) => {
        const mine = [];
        for (let i = 0; i < 30; i++) mine.push(await server.nextCrl('ff'));
        return mine;
      }),
    )
  ).flat();
  await revoking;
  const numbers = crls.map((c) => c.number).sort((a, b) => a - b);
  t.deepEqual(
    numbers,
    Array.from({ length: 90 }, (_, i) => i + 1),
    'every number once, none skipped',
  );
  const byNumber = [...crls].sort((a, b) => a.number - b.number).map((c) => new Set(c.revoked.map((e) => e.serial)));
  for (let i = 1; i < byNumber.length; i++) {
    t.true(
      [...byNumber[i - 1]!].every((serial) => byNumber[i]!.has(serial)),
      `CRL ${i + 1} lists everything CRL ${i} lists`,
    );
  }
  t.is((await servers[1]!.nextCrl('ff')).revoked.length, 40, 'the next CRL, from any server, lists every revocation made through any');
  await Promise.all(servers.map((s) => s.close()));
});

pgTest('a database that goes away: calls fail at once with LEDGER_UNAVAILABLE, and the same ledger works again when it returns', async (t) => {
  const location = await database();
  const ledger = await PostgresLedger.open(location);
  t.teardown(() => ledger.close());
  await ledger.record(sampleEntry('0d01'));
  await postgres.server.halt();
  try {
    const started = Date.now();
    const error = await t.throwsAsync(ledger.record(sampleEntry('0d02')), { instanceOf: UnavailableError, code: 'LEDGER_UNAVAILABLE' });
    t.regex(error?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${postgres.server.port}/${location.database} is unavailable`));
    t.regex(error?.hint ?? '', /nothing was issued/);
    await t.throwsAsync(ledger.nextCrl('ff'), { code: 'LEDGER_UNAVAILABLE' });
    await t.throwsAsync(ledger.list(), { code: 'LEDGER_UNAVAILABLE' });
    t.log(`failed after ${Date.now() - started} ms`);
  } finally {
    await postgres.server.start();
  }
  await ledger.record(sampleEntry('0d03'));
  t.deepEqual(
    (await ledger.list()).map((e) => e.serial),
    ['0d01', '0d03'],
    'what failed was not recorded; what came after was',
  );
  // A restart under open connections: the pool drops the dead ones and the next call succeeds.
  await postgres.server.restart();
  const after = await Promise.allSettled([ledger.record(sampleEntry('0d04')), ledger.get('0d01')]);
  t.true(
    after.every((r) => r.status === 'fulfilled' || (r.reason as { code?: string }).code === 'LEDGER_UNAVAILABLE'),
    'a call in flight at the restart fails as unavailable, if at all',
  );
  await ledger.record(sampleEntry('0d05'));
  t.truthy(await ledger.get('0d05'));
});

/** A CA and a certificate it issued for 127.0.0.1, made by OpenSSL in `dir`. */
async function tlsFiles(dir: string, name: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (f: string) => join(dir, `${name}-${f}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(file('san'), 'subjectAltName=IP:127.0.0.1\n');
  for (const args of [
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', `/CN=${name} database CA`],
    ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1'],
    [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      '1',
      '-days',
      '2',
      '-extfile',
      file('san'),
      '-out',
      file('server.crt'),
    ],
  ]) {
    const result = await run('openssl', args);
    if (result.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
  }
  return { ca: file('ca.pem'), cert: readFileSync(file('server.crt'), 'utf8'), key: readFileSync(file('server.key'), 'utf8') };
}

pgTest('TLS to the database as sslmode says: verify-full checks the root and the name, verify-ca the root, require any TLS', async (t) => {
  const dir = tempDir(t, 'keyward-db-tls-');
  const own = await tlsFiles(dir, 'own');
  const other = await tlsFiles(dir, 'other');
  const server = await startPostgres({ tls: { cert: own.cert, key: own.key } });
  t.teardown(() => server.stop());
  const saved = process.env.PGPASSWORD;
  process.env.PGPASSWORD = server.password;
  t.teardown(() => {
    process.env.PGPASSWORD = saved;
  });
  const at = (host: string, query: string) => parseLedgerLocation(`postgres://keyward@${host}:${server.port}/keyward?${query}`) as PostgresLocation;
  const verified = at('127.0.0.1', `sslmode=verify-full&sslrootcert=${own.ca}`);
  await PostgresLedger.migrate(verified);
  const ledger = await PostgresLedger.open(verified);
  await ledger.record(sampleEntry('0e01'));
  const encrypted = await server.sql(
    "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'keyward-ca' AND ssl AND version LIKE 'TLS%'",
  );
  t.true(Number(encrypted) >= 1, "the ledger's connections are TLS");
  await ledger.close();

  await t.throwsAsync(PostgresLedger.open(at('127.0.0.1', `sslmode=verify-full&sslrootcert=${other.ca}`)), {
    code: 'LEDGER_TLS_FAILED',
    message: /TLS to the ledger database at 127\.0\.0\.1:\d+\/keyward failed \(sslmode=verify-full\)/,
  });
  await t.throwsAsync(
    PostgresLedger.open(at('localhost', `sslmode=verify-full&sslrootcert=${own.ca}`)),
    { code: 'LEDGER_TLS_FAILED' },
    'a name not in its certificate',
  );
  await (await PostgresLedger.open(at('localhost', `sslmode=verify-ca&sslrootcert=${own.ca}`))).close();
  await (await PostgresLedger.open(at('127.0.0.1', 'sslmode=require'))).close();
  // The file's server has no TLS: require refuses it rather than talking in plain text.
  await t.throwsAsync(PostgresLedger.open(parseLedgerLocation(`${postgres.server.url}?sslmode=require`) as PostgresLocation), {
    code: 'LEDGER_TLS_FAILED',
    message: /does not support SSL/,
  });
});
