/**
 * Certificates issued per second by `keyward ca serve` on one machine: one worker process against
 * one per core (--workers), the CA key in one SoftHSM token, its SQLite ledger recording every
 * certificate; beside `cfssl serve` bare and with its SQLite certdb. WORKERS_CONCURRENCY requests
 * in flight over keep-alive HTTP, the same load generator for every server. All four servers run
 * at once (an idle one costs nothing) and are measured in turn, round after round, so that a
 * neighbour's load falls on each alike; each figure is the median of its rounds.
 */
import { availableParallelism, loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { caServeProcess } from '../test/harness/ca-server.js';
import { BENCH_PIN, benchCa, cfsslServers, load, type CaBenchRow, type RunningPeer } from './ca-issue.js';
import { interleavedMedians } from './measure.js';

export const WORKERS_CONCURRENCY = 16;

export interface WorkersBench {
  rows: CaBenchRow[];
  workers: number;
  /** The load average (1 min) when the measurements began and ended. */
  loadAverage: { start: number; end: number };
}

async function keywardServer(name: string, dir: string, workers: number): Promise<RunningPeer> {
  const served = await caServeProcess(['--dir', dir, '--workers', String(workers)], { ...process.env, KEYWARD_PIN: BENCH_PIN });
  return {
    name,
    port: served.port,
    stop: async () => {
      served.child.kill('SIGTERM');
      await served.exited;
    },
  };
}

export async function benchCaWorkers(): Promise<WorkersBench> {
  const workers = availableParallelism();
  const { keystore, directory, bodies } = await benchCa('workers');
  await keystore.close();
  const servers: RunningPeer[] = [];
  try {
    servers.push(await keywardServer('keyward ca serve, 1 worker, SQLite ledger', directory.dir, 1));
    servers.push(await keywardServer(`keyward ca serve, ${workers} workers, SQLite ledger`, directory.dir, workers));
    servers.push(...(await cfsslServers()));
    const start = loadavg()[0]!;
    const measured = await interleavedMedians(Object.fromEntries(servers.map((s) => [s.name, () => load(s.name, s.port, bodies, WORKERS_CONCURRENCY)])));
    return {
      rows: servers.map((s) => ({ server: s.name, measurement: measured[s.name]! })),
      workers,
      loadAverage: { start, end: loadavg()[0]! },
    };
  } finally {
    for (const server of servers) await server.stop();
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
