/**
 * `keyward ca serve --workers N`: several processes on one port, one SQLite ledger. Under load from
 * many connections, a worker killed mid-load is started again (and said so), and SIGTERM drains
 * them all: every serial any client received is unique and in the ledger. Workers start one after
 * another, so a wrong PIN is tried once; with mutual TLS one worker signs the CRL.
 */
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { normalizeSerial } from '../../../src/ca/ledger/ledger.js';
import { SqliteLedger } from '../../../src/ca/ledger/sqlite.js';
import { crlFile } from '../../../src/ca/store.js';
import { nodeCsr, testCa } from '../../harness/ca.js';
import { caServeProcess, post, type CaServeProcess } from '../../harness/ca-server.js';
import { USER_PIN } from '../../harness/keystore.js';
import { keyward, run } from '../../harness/run.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The worker processes of a `ca serve` (its children), by pid. */
function workerPids(server: CaServeProcess): number[] {
  const pid = server.child.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('three workers under load, one killed: it is started again, nothing received is missing, no serial twice, SIGTERM drains them all', async (t) => {
  const ca = await testCa(t);
  await ca.close();
  const env = { ...process.env, KEYWARD_PIN: USER_PIN };
  const server = await caServeProcess(['--dir', ca.directory.dir, '--workers', '3'], env);
  t.teardown(() => server.child.kill('SIGKILL'));
  t.regex(server.stderr(), /serving cfssl's API at http:\/\/127\.0\.0\.1:\d+ \(3 workers\)/);
  const workers = workerPids(server);
  t.is(workers.length, 3, 'three worker processes');

  const csrs = await Promise.all(Array.from({ length: 12 }, (_, i) => nodeCsr(`OU=swarm-worker, CN=worker-load-${i}`)));
  const received: string[] = [];
  let failed = 0;
  let killed: number | undefined;
  let restarted = false;
  const running = () => !restarted || received.length < 200;
  // A connection a request: the primary hands each to the next worker, so every worker takes load.
  await Promise.all([
    ...Array.from({ length: 8 }, async (_, k) => {
      for (let n = k; running(); n++) {
        try {
          const reply = await post(
            `http://127.0.0.1:${server.port}`,
            '/api/v1/cfssl/sign',
            JSON.stringify({ certificate_request: csrs[n % csrs.length]!.csrPem }),
          );
          if (reply.body.success) received.push(reply.body.result!.certificate!);
          else failed++;
        } catch {
          failed++; // the killed worker's connections are cut
        }
      }
    }),
    (async () => {
      await until(() => received.length >= 60, 60_000, '60 certificates');
      killed = workers[1]!;
      process.kill(killed, 'SIGKILL');
      await until(() => /serves again/.test(server.stderr()), 60_000, 'the killed worker to be replaced');
      restarted = true;
    })(),
  ]);
  t.log(`received ${received.length}, failed ${failed}`);
  t.regex(server.stderr(), new RegExp(`worker 2 \\(pid ${killed}\\) was killed by SIGKILL: starting another`));
  const now = workerPids(server);
  t.is(now.length, 3);
  t.false(now.includes(killed!), 'the dead worker is gone, another serves in its place');

  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);
  t.regex(server.stderr(), /SIGTERM: no new connections[\s\S]*stopped\n$/);
  for (const pid of now) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} has exited`);

  const serials = received.map((pem) => normalizeSerial(new X509Certificate(pem).serialNumber));
  t.is(new Set(serials).size, serials.length, 'no serial was handed out twice');
  const ledger = SqliteLedger.open(ca.directory.path('ledger.sqlite'));
  t.teardown(() => ledger.close());
  const recorded = new Map((await ledger.list()).map((e) => [e.serial, e]));
  const missing = serials.filter((serial, i) => Buffer.compare(Buffer.from(recorded.get(serial)?.der ?? []), new X509Certificate(received[i]!).raw) !== 0);
  t.deepEqual(missing, [], 'every certificate any client received is in the ledger, as it was handed out');
});

test('a wrong PIN is tried by the first worker only, and the server exits 4 without starting others', async (t) => {
  const ca = await testCa(t);
  await ca.close();
  const result = await keyward(['ca', 'serve', '--listen', '127.0.0.1:0', '--dir', ca.directory.dir, '--workers', '3'], {
    env: { ...process.env, KEYWARD_PIN: 'not-the-pin' },
  });
  t.is(result.code, 4, result.stderr);
  t.is(result.stderr.match(/wrong user PIN/g)?.length, 1, `one PIN try: ${result.stderr}`);
});

test('with mutual TLS and three workers, one CRL is signed at start-up and the others serve with it', async (t) => {
  const ca = await testCa(t);
  await ca.close();
  const env = { ...process.env, KEYWARD_PIN: USER_PIN };
  const server = await caServeProcess(['--dir', ca.directory.dir, '--workers', '3', '--tls', '--client-auth', 'managers'], env);
  t.teardown(() => server.child.kill('SIGKILL'));
  const text = await run('openssl', ['crl', '-in', ca.directory.path(crlFile('intermediate')), '-noout', '-text']);
  t.is(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text.stdout)?.[1], '1', 'the first CRL, signed once');
  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);
});
