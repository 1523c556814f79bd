/**
 * Certificates issued per second through cfssl's API (POST /api/v1/cfssl/sign, node CSRs), in one
 * run: Keyward with its CA key in SoftHSM, Keyward with an in-memory key, and `cfssl serve` with a
 * software key (without and with its SQLite certdb). One load generator for all three: 4 requests in flight over keep-alive HTTP.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authority } from '../src/ca/authority.js';
import { createIntermediate } from '../src/ca/issue.js';
import { createClusterIntermediate } from '../src/ca/steps/intermediate.js';
import { createRootCa } from '../src/ca/steps/root.js';
import { SqliteLedger } from '../src/ca/ledger/sqlite.js';
import { CfsslApi } from '../src/ca/server/cfssl-api.js';
import { serveCa } from '../src/ca/server/serve.js';
import { startCaServer } from '../src/ca/server/server.js';
import { SigningKey } from '../src/certificates/signer.js';
import { CaDirectory } from '../src/ca/store.js';
import { MemoryKeyHandle } from '../src/keystore/memory-key.js';
import { KeyUri } from '../src/keystore/uri/origin.js';
import { Keystore } from '../src/keystore/keystore.js';
import { Secret } from '../src/secret.js';
import { nodeCsr } from '../test/harness/ca.js';
import { run } from '../test/harness/run.js';
import { DEFAULT_SECONDS, median, type Measurement } from './measure.js';

export const CA_CONCURRENCY = 4;
export const BENCH_PIN = 'bench-pin';

export interface CaBenchRow {
  server: string;
  measurement: Measurement;
}

function post(agent: Agent, port: number, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/cfssl/sign', method: 'POST', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode === 200 && (JSON.parse(Buffer.concat(chunks).toString()) as { success: boolean }).success));
    });
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** Signing requests per second for `seconds`, `concurrency` in flight, spread over the servers at `ports` in turn. */
export async function load(
  name: string,
  ports: number | number[],
  bodies: string[],
  concurrency = CA_CONCURRENCY,
  seconds = DEFAULT_SECONDS,
): Promise<Measurement> {
  const targets = Array.isArray(ports) ? ports : [ports];
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  for (const port of targets) if (!(await post(agent, port, bodies[0]!))) throw new Error(`${name}: the first request to port ${port} failed`);
  let operations = 0;
  let failures = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; performance.now() < end; i += concurrency) {
        if (await post(agent, targets[i % targets.length]!, bodies[i % bodies.length]!)) operations++;
        else failures++;
      }
    }),
  );
  agent.destroy();
  if (failures) throw new Error(`${name}: ${failures} requests failed`);
  const elapsed = (performance.now() - start) / 1000;
  return { name, opsPerSecond: operations / elapsed, operations, seconds: elapsed, concurrency };
}

export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/v1/cfssl/info', method: 'POST' }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end('{}');
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers on port ${port}`);
}

/** cfssl's certdb schema (its certdb/sqlite migrations, which cfssl serve does not run itself). */
function cfsslCertdb(path: string): string {
  const db = new Database(path);
  db.exec(`CREATE TABLE certificates (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, ca_label blob, status blob NOT NULL,
             reason int, expiry timestamp, revoked_at timestamp, pem blob NOT NULL, issued_at timestamp, not_before timestamp,
             metadata text, sans text, common_name text, PRIMARY KEY (serial_number, authority_key_identifier));
           CREATE TABLE ocsp_responses (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, body blob NOT NULL,
             expiry timestamp, PRIMARY KEY (serial_number, authority_key_identifier));`);
  db.close();
  return path;
}

/** A CA on SoftHSM tokens made for the bench (labels from `prefix`), on SQLite, and node CSRs as request bodies. */
export async function benchCa(prefix: string) {
  // Two tokens in one keystore: each its own PIN variable (KEYWARD_PIN goes to one device), set once it exists.
  const env: NodeJS.ProcessEnv = {};
  const keystore = new Keystore({ env });
  const pkcs11 = await keystore.administration('pkcs11');
  for (const label of [`${prefix}-root`, `${prefix}-online`]) {
    env[pkcs11.initToken('pkcs11:', { label, soPin: Secret.fromString('bench-so'), userPin: Secret.fromString(BENCH_PIN) }).pinVariable!] = BENCH_PIN;
  }
  const directory = new CaDirectory(mkdtempSync(join(tmpdir(), 'keyward-bench-ca-')));
  const rootKey = KeyUri.of(`pkcs11:token=${prefix}-root;object=root`);
  await createRootCa(directory, keystore, { key: rootKey, generate: 'p256' });
  const root = directory.root();
  await createClusterIntermediate(directory, keystore, {
    rootKey,
    key: KeyUri.of(`pkcs11:token=${prefix}-online;object=intermediate`),
    generate: 'p256',
    clusterId: 'bench',
  });
  const csrs = await Promise.all(Array.from({ length: 64 }, (_, i) => nodeCsr(`OU=swarm-worker, CN=bench-${i}`)));
  return { keystore, directory, rootKey, root, bodies: csrs.map((c) => JSON.stringify({ certificate_request: c.csrPem })) };
}

export async function benchCaIssue(): Promise<CaBenchRow[]> {
  const { keystore, directory, rootKey, root, bodies } = await benchCa('ca');
  const rows: CaBenchRow[] = [];

  const hardware = await serveCa(directory, keystore, { port: 0 });
  rows.push({ server: 'Keyward, CA key in SoftHSM', measurement: await median(() => load('keyward-softhsm', hardware.port, bodies)) });
  await hardware.close();

  // The same issuing path with the intermediate's key in memory: what the device costs.
  const memoryKey = await SigningKey.of(new MemoryKeyHandle('p256', 'bench intermediate'));
  const rootSigner = await SigningKey.of(await keystore.open(rootKey));
  const memoryCertificate = await createIntermediate(rootSigner, root, { clusterId: 'bench', spki: memoryKey.spki }, { now: new Date() });
  const memoryAuthority = new Authority(memoryKey, memoryCertificate, SqliteLedger.open(join(directory.dir, 'memory-ledger.sqlite')), {
    clusterId: 'bench',
    nodeDays: 90,
  });
  const memory = await startCaServer({ api: new CfsslApi(memoryAuthority) });
  rows.push({ server: 'Keyward, CA key in memory', measurement: await median(() => load('keyward-memory', memory.port, bodies)) });
  await memory.close();
  await memoryAuthority.ledger.close();

  rows.push(...(await benchCfssl(bodies)));
  await keystore.close();
  rmSync(directory.dir, { recursive: true, force: true });
  return rows;
}

/** cfssl serve without and with its certdb (cfsslServers), measured one after the other. */
export async function benchCfssl(bodies: string[], concurrency = CA_CONCURRENCY): Promise<CaBenchRow[]> {
  const rows: CaBenchRow[] = [];
  const servers = await cfsslServers();
  try {
    for (const server of servers) rows.push({ server: server.name, measurement: await median(() => load(server.name, server.port, bodies, concurrency)) });
  } finally {
    for (const server of servers) await server.stop();
  }
  return rows;
}

export interface RunningPeer {
  name: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * `cfssl serve` twice, a software key, its default profile: once recording nothing (its default),
 * once recording every certificate in its SQLite certdb, as Keyward's ledger always does. Their
 * scratch directory goes when the last of them stops.
 */
export async function cfsslServers(): Promise<RunningPeer[]> {
  const cfsslDir = mkdtempSync(join(tmpdir(), 'keyward-bench-cfssl-'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(cfsslDir, 'ca.key'),
    '-out',
    join(cfsslDir, 'ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=cfssl bench ca',
  ]);
  writeFileSync(
    join(cfsslDir, 'config.json'),
    JSON.stringify({ signing: { default: { expiry: '2160h', usages: ['signing', 'key encipherment', 'server auth', 'client auth'] } } }),
  );
  writeFileSync(join(cfsslDir, 'db.json'), JSON.stringify({ driver: 'sqlite3', data_source: cfsslCertdb(join(cfsslDir, 'certs.db')) }));
  let running = 0;
  const servers: RunningPeer[] = [];
  for (const [name, extra] of [
    ['cfssl serve, CA key in memory, no certdb', []],
    ['cfssl serve, CA key in memory, SQLite certdb', ['-db-config', join(cfsslDir, 'db.json')]],
  ] as const) {
    const port = 30000 + Math.floor(Math.random() * 20000);
    const cfssl = spawn(
      'cfssl',
      [
        'serve',
        '-ca',
        join(cfsslDir, 'ca.pem'),
        '-ca-key',
        join(cfsslDir, 'ca.key'),
        '-config',
        join(cfsslDir, 'config.json'),
        ...extra,
        '-address',
        '127.0.0.1',
        '-port',
        String(port),
        '-loglevel',
        '5',
      ],
      { stdio: 'ignore' },
    );
    running++;
    const exited = new Promise((resolve) => cfssl.once('exit', resolve));
    const stop = async () => {
      cfssl.kill();
      await exited;
      if (--running === 0) rmSync(cfsslDir, { recursive: true, force: true });
    };
    try {
      await waitForPort(port);
    } catch (error) {
      for (const started of [...servers, { stop }]) await started.stop();
      throw error;
    }
    servers.push({ name, port, stop });
  }
  return servers;
}
