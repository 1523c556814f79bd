/**
 * Three `keyward ca serve` replicas on one PostgreSQL ledger (a real one, started by the harness),
 * each with its own copy of the CA directory as separate machines would have, the issuing key in
 * one HSM they all reach. The CA is made on SQLite and moved to PostgreSQL with export and import,
 * as an operator would. Under load from cfssl's own client and from a client that sends
 * SwarmKit's requests, one replica is killed and PostgreSQL restarted: every certificate any
 * client received is in the ledger, no serial twice, and the replicas that were not restarted
 * serve again by themselves. Revocations and CRLs across replicas.
 */
import test, { type ExecutionContext } from 'ava';
import { X509Certificate } from 'node:crypto';
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeSerial } from '../../../src/ca/ledger/ledger.js';
import { parseLedgerLocation, type PostgresLocation } from '../../../src/ca/ledger/location.js';
import { PostgresLedger } from '../../../src/ca/ledger/postgres.js';
import { CA_FILES } from '../../../src/ca/store.js';
import { nodeCsr, testCa, type TestCa } from '../../harness/ca.js';
import { caServeProcess, post, swarmNodeCsr, swarmSignRequest, type CaServeProcess } from '../../harness/ca-server.js';
import { USER_PIN } from '../../harness/keystore.js';
import { keyward, run } from '../../harness/run.js';
import { postgresForFile } from '../../harness/postgres.js';
import { tempDir } from '../../harness/temp.js';

const postgres = postgresForFile(test);
const why = postgres.why;
const pgTest = why ? test.skip : test.serial;

interface Cluster {
  ca: TestCa;
  url: string;
  env: NodeJS.ProcessEnv;
  /** Each replica's CA directory: a copy of the CA's, without its ledger.sqlite. */
  dirs: string[];
}

/** Runs keyward, failing the test with its output if it fails; returns its stdout. */
async function must(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const result = await keyward(args, { env });
  if (result.code !== 0) throw new Error(`keyward ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** A CA made on SQLite, moved to a new PostgreSQL database, and copied to three replicas' directories. */
async function cluster(t: ExecutionContext, name: string): Promise<Cluster> {
  const ca = await testCa(t);
  await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=before-the-move')).csrPem);
  await ca.close();
  const url = await postgres.server.createDatabase(name);
  const env = { ...process.env, KEYWARD_PIN: USER_PIN, PGPASSWORD: postgres.server.password };
  const work = tempDir(t, 'keyward-replicas-');
  const file = join(work, 'ledger.json');
  await must(['ca', 'ledger', 'migrate', '--ledger', url], env);
  const exported = JSON.parse(await must(['--json', 'ca', 'ledger', 'export', '--dir', ca.directory.dir, '--out', file], env));
  const imported = JSON.parse(await must(['--json', 'ca', 'ledger', 'import', '--ledger', url, '--in', file], env));
  t.like(imported, { count: exported.count, sha256: exported.sha256, unchanged: false }, 'the import moved what the export wrote');
  const dirs = [1, 2, 3].map((i) => {
    const dir = join(work, `replica-${i}`);
    cpSync(ca.directory.dir, dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.startsWith(CA_FILES.ledger)) rmSync(join(dir, f));
    return dir;
  });
  return { ca, url, env, dirs };
}

async function serve(t: ExecutionContext, c: Cluster, i: number): Promise<CaServeProcess> {
  const replica = await caServeProcess(['--dir', c.dirs[i]!, '--ledger', c.url], c.env);
  t.teardown(() => replica.child.kill('SIGKILL'));
  return replica;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done`, at most `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Received {
  pem: string;
  replica: number;
  /** Which phase it was received in: 0 before the kill, 1 after it, 2 after PostgreSQL's restart, 3 after the replica's. */
  phase: number;
  client: 'cfssl' | 'swarm';
}

pgTest(
  'three replicas under load from cfssl and SwarmKit-shaped clients, one killed and PostgreSQL restarted: nothing received is missing, no serial twice',
  async (t) => {
    const c = await cluster(t, 'replicas_load');
    const replicas = await Promise.all([0, 1, 2].map((i) => serve(t, c, i)));
    const ports = replicas.map((r) => r.port);
    const clusterId = c.ca.clusterId;
    const work = tempDir(t, 'keyward-clients-');
    const cfsslCsrs = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const file = join(work, `cfssl-${i}.csr`);
        writeFileSync(file, (await nodeCsr(`OU=swarm-worker, CN=cfssl-${i}`)).csrPem);
        return file;
      }),
    );
    const swarmCsrs = await Promise.all([0, 1, 2, 3].map(() => swarmNodeCsr()));

    const received: Received[] = [];
    const failures = new Map<string, number>();
    const failed = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
    let phase = 0;
    // The load ends 40 certificates after the killed replica is back (or at the deadline: the test then fails).
    const deadline = Date.now() + 120_000;
    const running = () => Date.now() < deadline && received.filter((r) => r.phase === 3).length < 40;

    const swarmClient = async (k: number) => {
      for (let n = k; running(); n++) {
        const replica = n % 3;
        const role = n % 4 === 0 ? 'swarm-manager' : 'swarm-worker';
        const at = phase;
        try {
          const reply = await post(
            `http://127.0.0.1:${ports[replica]}`,
            '/api/v1/cfssl/sign',
            swarmSignRequest(swarmCsrs[k]!.csrPem, `node-${k}-${n}`, role, clusterId),
          );
          if (reply.body.success) received.push({ pem: reply.body.result!.certificate!, replica, phase: at, client: 'swarm' });
          else failed(`${reply.status} ${reply.body.errors[0]?.code}`);
        } catch (error) {
          failed((error as NodeJS.ErrnoException).code ?? 'network');
          await sleep(20);
        }
      }
    };
    const cfsslClient = async (k: number) => {
      for (let n = k; running(); n++) {
        const replica = n % 3;
        const at = phase;
        const result = await run('cfssl', ['sign', '-remote', `http://127.0.0.1:${ports[replica]}`, cfsslCsrs[(k + n) % cfsslCsrs.length]!]);
        if (result.code === 0) received.push({ pem: JSON.parse(result.stdout).cert, replica, phase: at, client: 'cfssl' });
        else {
          failed(`cfssl ${/"code":(\d+)/.exec(result.stderr)?.[1] ?? result.code}`);
          await sleep(20);
        }
      }
    };
    const started = Date.now();
    const phaseTimes: number[] = [];
    const events = (async () => {
      await until(() => received.length >= 50, 60_000, '50 certificates');
      replicas[1]!.child.kill('SIGKILL'); // no goodbye: whatever it was doing is cut off
      phase = 1;
      phaseTimes.push(Date.now() - started);
      await until(() => received.length >= 100, 60_000, '100 certificates');
      await postgres.server.restart(); // every replica's connections are ended under it
      phase = 2;
      phaseTimes.push(Date.now() - started);
      await until(() => received.length >= 150, 60_000, '150 certificates after the restart');
      const restarted = await serve(t, c, 1);
      ports[1] = restarted.port;
      phase = 3;
      phaseTimes.push(Date.now() - started);
    })();
    await Promise.all([...[0, 1, 2, 3].map(swarmClient), ...[0, 1].map(cfsslClient), events]);
    t.log(`phases began at ${phaseTimes.join(', ')} ms, the load ended at ${Date.now() - started} ms`);
    t.log(
      `received ${received.length} (${received.filter((r) => r.client === 'cfssl').length} by cfssl); refused or failed: ${JSON.stringify(Object.fromEntries(failures))}`,
    );
    t.true(received.filter((r) => r.phase === 3).length >= 40, 'the load ran to its end');

    const serials = received.map((r) => normalizeSerial(new X509Certificate(r.pem).serialNumber));
    t.is(new Set(serials).size, serials.length, 'no serial was handed out twice');
    const ledger = await PostgresLedger.open(parseLedgerLocation(c.url) as PostgresLocation);
    t.teardown(() => ledger.close());
    const recorded = new Map((await ledger.list()).map((e) => [e.serial, e]));
    const missing = serials.filter(
      (serial, i) => Buffer.compare(Buffer.from(recorded.get(serial)?.der ?? []), new X509Certificate(received[i]!.pem).raw) !== 0,
    );
    t.deepEqual(missing, [], 'every certificate any client received is in the ledger, as it was handed out');
    for (const replica of [0, 2]) {
      t.true(
        received.some((r) => r.replica === replica && r.phase >= 2),
        `replica ${replica + 1} issued again after PostgreSQL's restart, without being restarted`,
      );
      t.is(replicas[replica]!.child.exitCode, null);
    }
    t.true(
      received.some((r) => r.replica === 1 && r.phase === 3),
      'the killed replica, started again, issues',
    );
    t.true(
      received.some((r) => r.client === 'cfssl' && r.phase >= 2),
      "cfssl's client was served after the restart too",
    );
  },
);

/** The CRL number and the serials of a CRL file, as OpenSSL reads them. */
async function readCrl(file: string): Promise<{ number: number; serials: string[] }> {
  const text = await run('openssl', ['crl', '-in', file, '-noout', '-text']);
  if (text.code !== 0) throw new Error(text.stderr);
  const number = /X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text.stdout)?.[1];
  return { number: Number(number), serials: [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => normalizeSerial(m[1]!)) };
}

pgTest('a revocation through one replica is in the CRL another signs; CRLs signed on two replicas at once get distinct, increasing numbers', async (t) => {
  const c = await cluster(t, 'replicas_crl');
  const replica = await serve(t, c, 0);
  const node = await swarmNodeCsr();
  const reply = await post(`http://127.0.0.1:${replica.port}`, '/api/v1/cfssl/sign', swarmSignRequest(node.csrPem, 'doomed', 'swarm-worker', c.ca.clusterId));
  const serial = normalizeSerial(new X509Certificate(reply.body.result!.certificate!).serialNumber);
  await must(['ca', 'revoke', serial, '--reason', 'keyCompromise', '--dir', c.dirs[0]!, '--ledger', c.url], c.env);
  const crls = tempDir(t, 'keyward-crls-');
  const sign = async (dir: number, name: string) => {
    const file = join(crls, `${name}.pem`);
    await must(['ca', 'crl', '--dir', c.dirs[dir]!, '--ledger', c.url, '--out', file], c.env);
    return readCrl(file);
  };
  const first = await sign(2, 'first');
  t.true(first.serials.includes(serial), 'replica 3 lists what was revoked through replica 1');

  const numbers = [first.number];
  for (let round = 0; round < 3; round++) {
    const pair = await Promise.all([sign(0, `a${round}`), sign(1, `b${round}`)]);
    for (const crl of pair) t.true(crl.serials.includes(serial));
    const [low, high] = pair.map((crl) => crl.number).sort((a, b) => a - b);
    t.not(low, high, 'two replicas signing at once get two numbers');
    t.true(low! > numbers.at(-1)!, 'each higher than every CRL signed before');
    numbers.push(low!, high!);
  }
  t.log(`CRL numbers: ${numbers.join(', ')}`);
  const status = JSON.parse(await must(['--json', 'ca', 'status', '--dir', c.dirs[1]!, '--ledger', c.url], c.env));
  t.like(
    status.certificates.find((e: { serial: string }) => e.serial === serial),
    { status: 'revoked', revocationReason: 'keyCompromise' },
    'ca status reads the one ledger',
  );
});
