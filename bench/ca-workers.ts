/**
 * Certificates issued per second by `keyward ca serve` on one machine: one worker process against
 * one per core (--workers), the CA key in one SoftHSM token, its SQLite ledger recording every
 * certificate; beside `cfssl serve` bare and with its SQLite certdb, and beside node:http answering
 * a constant (the floor: what HTTP and the load generator leave of the machine). WORKERS_CONCURRENCY
 * requests in flight over keep-alive HTTP, the same load generator for every server. All the
 * servers run at once (an idle one costs nothing) and are measured in turn, round after round, so
 * that a neighbour's load falls on each alike; each figure is the median of its rounds. Also the
 * time node:crypto takes to check one CSR (its key imported, its signature verified), which every
 * certificate costs a Node CA.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { checkCsr } from '../src/ca/csr.js';
import { freePort } from '../src/testing/ports.js';
import { caServeProcess } from '../test/harness/ca-server.js';
import { BENCH_PIN, benchCa, cfsslServers, load, waitForPort, type CaBenchRow, type RunningPeer } from './ca-issue.js';
import { DEFAULT_SECONDS, interleavedMedians } from './measure.js';

export const WORKERS_CONCURRENCY = 16;

export interface WorkersBench {
  rows: CaBenchRow[];
  workers: number;
  /** The load average (1 min) when the measurements began and ended. */
  loadAverage: { start: number; end: number };
  /** Microseconds node:crypto takes to check one of the bench's P-256 CSRs, in this process. */
  csrCheckMicroseconds: number;
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

/** node:http answering a constant, `workers` processes on one port (bench/http-floor-server.ts). */
async function floorServer(name: string, workers: number): Promise<RunningPeer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./http-floor-server.ts', import.meta.url).pathname, String(workers), String(port)], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForPort(port);
  return {
    name,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function csrCheckMicroseconds(bodies: string[]): Promise<number> {
  const csrs = bodies.map((body) => (JSON.parse(body) as { certificate_request: string }).certificate_request);
  for (const csr of csrs) await checkCsr(csr); // warm
  let checks = 0;
  const start = performance.now();
  while (performance.now() - start < DEFAULT_SECONDS * 1000) await checkCsr(csrs[checks++ % csrs.length]!);
  return ((performance.now() - start) * 1000) / checks;
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
    servers.push(await floorServer('node:http answering a constant, 1 worker (no CA work)', 1));
    servers.push(await floorServer(`node:http answering a constant, ${workers} workers (no CA work)`, workers));
    const start = loadavg()[0]!;
    const measured = await interleavedMedians(Object.fromEntries(servers.map((s) => [s.name, () => load(s.name, s.port, bodies, WORKERS_CONCURRENCY)])));
    return {
      rows: servers.map((s) => ({ server: s.name, measurement: measured[s.name]! })),
      workers,
      loadAverage: { start, end: loadavg()[0]! },
      csrCheckMicroseconds: await csrCheckMicroseconds(bodies),
    };
  } finally {
    for (const server of servers) await server.stop();
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
