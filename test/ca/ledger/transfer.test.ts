/**
 * Moving a CA's ledger from SQLite to PostgreSQL (a real one, started by the harness) and back with
 * `keyward ca ledger export` and `import`: nothing lost on the way, each end printing the same count
 * and checksum, an import refused where it would mix ledgers or where the file was damaged.
 */
import test from 'ava';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CA_FILES } from '../../../src/ca/store.js';
import { ExitCode } from '../../../src/error-codes.js';
import { nodeCsr, testCa } from '../../harness/ca.js';
import { keyward } from '../../harness/run.js';
import { postgresForFile } from '../../harness/postgres.js';
import { tempDir } from '../../harness/temp.js';

const postgres = postgresForFile(test);
const why = postgres.why;

(why ? test.skip : test)('a SQLite ledger exported, imported into PostgreSQL, and back into SQLite loses nothing', async (t) => {
  const ca = await testCa(t);
  const issued = await Promise.all(['a', 'b', 'c'].map(async (n) => ca.authority.issueNode((await nodeCsr(`OU=swarm-worker, CN=move-${n}`)).csrPem)));
  await ca.authority.ledger.revoke(issued[1]!.serial, 'superseded');
  await ca.authority.crl();
  await ca.authority.crl();
  await ca.close();
  const env = { ...process.env, PGPASSWORD: postgres.server.password };
  const ledger = async (args: string[], expected = 0) => {
    const result = await keyward(['--json', 'ca', 'ledger', ...args], { env });
    t.is(result.code, expected, result.stderr);
    return result.code === 0 ? JSON.parse(result.stdout) : JSON.parse(result.stderr || result.stdout);
  };
  const work = tempDir(t, 'keyward-move-');
  const url = await postgres.server.createDatabase('moved');

  const fromSqlite = await ledger(['export', '--dir', ca.directory.dir, '--out', join(work, '1.json')]);
  // root, intermediate, cluster CA, three nodes; the root's CRL number (intermediate create) and the intermediate's.
  t.like(fromSqlite, { count: 6, crlIssuers: 2 });
  t.regex(fromSqlite.sha256, /^[0-9a-f]{64}$/);
  t.like(await ledger(['import', '--ledger', url, '--in', join(work, '1.json')], ExitCode.notFound), { error: { code: 'LEDGER_SCHEMA_MISSING' } });
  await ledger(['migrate', '--ledger', url]);
  t.like(await ledger(['import', '--ledger', url, '--in', join(work, '1.json')]), { count: 6, sha256: fromSqlite.sha256, unchanged: false });
  t.like(await ledger(['import', '--ledger', url, '--in', join(work, '1.json')]), { sha256: fromSqlite.sha256, unchanged: true }, 'run twice: nothing more');

  const fromPostgres = await ledger(['export', '--dir', ca.directory.dir, '--ledger', url, '--out', join(work, '2.json')]);
  t.is(fromPostgres.sha256, fromSqlite.sha256);
  t.is(readFileSync(join(work, '2.json'), 'utf8'), readFileSync(join(work, '1.json'), 'utf8'), 'the same file, byte for byte');

  const back = tempCaCopy(t, ca.directory.dir);
  t.like(await ledger(['import', '--dir', back, '--ledger', 'sqlite', '--in', join(work, '2.json')]), { count: 6, sha256: fromSqlite.sha256 });
  await ledger(['export', '--dir', back, '--out', join(work, '3.json')]);
  t.is(readFileSync(join(work, '3.json'), 'utf8'), readFileSync(join(work, '1.json'), 'utf8'), 'SQLite → PostgreSQL → SQLite: the same content');
  const status = await keyward(['--json', 'ca', 'status', '--dir', back], { env });
  t.like(JSON.parse(status.stdout), { counts: { issued: 5, revoked: 1 } });

  // Another CA's ledger does not go into this one; a damaged file goes nowhere.
  const other = await testCa(t);
  await other.close();
  await ledger(['export', '--dir', other.directory.dir, '--out', join(work, 'other.json')]);
  const mixed = await ledger(['import', '--ledger', url, '--in', join(work, 'other.json')], ExitCode.conflict);
  t.is(mixed.error.code, 'LEDGER_NOT_EMPTY');
  const damaged = readFileSync(join(work, '1.json'), 'utf8').replace('"status": "revoked"', '"status": "issued"');
  writeFileSync(join(work, 'damaged.json'), damaged);
  const refused = await ledger(
    ['import', '--dir', tempCaCopy(t, ca.directory.dir), '--ledger', 'sqlite', '--in', join(work, 'damaged.json')],
    ExitCode.verification,
  );
  t.is(refused.error.code, 'LEDGER_EXPORT_INVALID');
});

/** A copy of a CA directory without its ledger. */
function tempCaCopy(t: Parameters<typeof tempDir>[0], dir: string): string {
  const copy = join(tempDir(t, 'keyward-ca-copy-'), 'ca');
  cpSync(dir, copy, { recursive: true });
  for (const f of readdirSync(copy)) if (f.startsWith(CA_FILES.ledger)) rmSync(join(copy, f));
  return copy;
}
