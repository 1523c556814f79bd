/**
 * Certificates issued per second by `keyward ca serve` processes: one on its SQLite ledger, and
 * one, two and three replicas sharing a PostgreSQL ledger (a private server, fsync on), each with
 * its own copy of the CA directory and the CA key in one SoftHSM token; beside `cfssl serve` bare
 * and with its SQLite certdb. REPLICA_CONCURRENCY requests in flight, spread over the replicas in
 * turn (a client-side load balancer), all in one run on the same machine.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLedgerLocation, type PostgresLocation } from '../src/ca/ledger/location.js';
import { PostgresLedger } from '../src/ca/ledger/postgres.js';
import { CA_FILES } from '../src/ca/store.js';
import { postgresUnavailable, startPostgres } from '../src/testing/postgres.js';
import { caServeProcess, type CaServeProcess } from '../test/harness/ca-server.js';
import { keyward } from '../test/harness/run.js';
import { BENCH_PIN, benchCa, benchCfssl, load, type CaBenchRow } from './ca-issue.js';
import { median } from './measure.js';

export const REPLICA_CONCURRENCY = 16;

async function stop(servers: CaServeProcess[]): Promise<void> {
  for (const server of servers) server.child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
}

export async function benchCaReplicas(): Promise<{ rows: CaBenchRow[]; skipped?: string }> {
  const why = postgresUnavailable();
  if (why) return { rows: [], skipped: why };
  const { keystore, directory, bodies } = await benchCa('replicas');
  await keystore.close();
  const pg = await startPostgres();
  const work = mkdtempSync(join(tmpdir(), 'keyward-bench-replicas-'));
  try {
    const env = { ...process.env, KEYWARD_PIN: BENCH_PIN, PGPASSWORD: pg.password };
    process.env.PGPASSWORD = pg.password;
    await PostgresLedger.migrate(parseLedgerLocation(pg.url) as PostgresLocation);
    // The CA moves to PostgreSQL as an operator moves it: export, import.
    for (const args of [
      ['ca', 'ledger', 'export', '--dir', directory.dir, '--out', join(work, 'ledger.json')],
      ['ca', 'ledger', 'import', '--ledger', pg.url, '--in', join(work, 'ledger.json')],
    ]) {
      const result = await keyward(args, { env });
      if (result.code !== 0) throw new Error(`keyward ${args.join(' ')}: ${result.stderr}`);
    }
    const dirs = [1, 2, 3].map((i) => {
      const dir = join(work, `replica-${i}`);
      cpSync(directory.dir, dir, { recursive: true });
      for (const f of readdirSync(dir)) if (f.startsWith(CA_FILES.ledger)) rmSync(join(dir, f));
      return dir;
    });
    const rows: CaBenchRow[] = [];
    const measure = async (server: string, servers: CaServeProcess[]) => {
      try {
        rows.push({
          server,
          measurement: await median(() =>
            load(
              server,
              servers.map((s) => s.port),
              bodies,
              REPLICA_CONCURRENCY,
            ),
          ),
        });
      } finally {
        await stop(servers);
      }
    };
    await measure('keyward ca serve ×1, SQLite ledger', [await caServeProcess(['--dir', directory.dir], env)]);
    for (const n of [1, 2, 3]) {
      const replicas = await Promise.all(dirs.slice(0, n).map((dir) => caServeProcess(['--dir', dir, '--ledger', pg.url], env)));
      await measure(`keyward ca serve ×${n}, PostgreSQL ledger`, replicas);
    }
    rows.push(...(await benchCfssl(bodies, REPLICA_CONCURRENCY)));
    return { rows };
  } finally {
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
