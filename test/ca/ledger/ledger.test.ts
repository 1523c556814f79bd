/**
 * The issuance ledger: every certificate recorded before it is handed out, serials unique, nothing
 * lost when the CA server is killed in the middle of a load.
 */
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { SqliteLedger } from '../../../src/ca/ledger/sqlite.js';
import { normalizeSerial } from '../../../src/ca/ledger/ledger.js';
import { nodeCsr, testCa } from '../../harness/ca.js';
import { caServeProcess } from '../../harness/ca-server.js';
import { checkLedgerRules, sampleEntry } from '../../harness/ledger.js';
import { USER_PIN } from '../../harness/keystore.js';
import { PROJECT_ROOT, run } from '../../harness/run.js';
import { tempDir } from '../../harness/temp.js';

test('100 concurrent issuances: 100 unique serials, every one in the ledger', async (t) => {
  const ca = await testCa(t);
  const csrs = await Promise.all(Array.from({ length: 100 }, (_, i) => nodeCsr(`OU=swarm-worker, CN=n-${i}`)));
  const issued = await Promise.all(csrs.map((c) => ca.authority.issueNode(c.csrPem)));
  const serials = new Set(issued.map((i) => i.serial));
  t.is(serials.size, 100);
  // The key's other certificate, the cluster CA it self-signed, is in the ledger too.
  const recorded = (await ca.authority.ledger.list({ issuerKeyId: ca.authority.keyId })).filter((e) => e.profile !== 'cluster-ca');
  t.deepEqual(recorded.map((e) => e.serial).sort(), [...serials].sort());
  for (const entry of recorded) {
    const match = issued.find((i) => i.serial === entry.serial)!;
    t.deepEqual(Buffer.from(entry.der), Buffer.from(match.certificate.rawData), 'the ledger holds the very certificate handed out');
    // About one serial in eight starts with a zero nibble: the ledger keeps it, as openssl and Node print it.
    t.is(entry.serial, new X509Certificate(entry.der).serialNumber.toLowerCase(), 'the serial as the certificate has it');
  }
  await ca.close();
});

test('the ledger refuses a serial twice, keeps revocations, numbers CRLs, and survives reopening', async (t) => {
  const path = join(tempDir(t, 'keyward-ledger-'), 'ledger.sqlite');
  await checkLedgerRules(t, async () => SqliteLedger.open(path));
  const twice = SqliteLedger.open(path);
  await twice.close();
  await t.notThrowsAsync(twice.close(), 'a server and its owner may both close it');
  t.is(normalizeSerial('00:AB:C1:23'), 'abc123');
  t.is(normalizeSerial('A:0B'), '0a0b', 'typed without its leading zero: found all the same');
  t.is(normalizeSerial('0x0A0B'), '0a0b');
});

/**
 * The WAL's system calls (strace -f -y: each descriptor with its path) of a process that records
 * certificates one at a time and prints a line once each is recorded, then revokes one and takes
 * a CRL number: in the order they completed, "write" (the WAL written), "sync" (the WAL synced),
 * or "said" (a line printed).
 */
async function walTrace(t: ExecutionContext): Promise<Array<'write' | 'sync' | 'said'>> {
  const dir = tempDir(t, 'keyward-ledger-sync-');
  const script = `
    import { writeSync } from 'node:fs';
    import { SqliteLedger } from ${JSON.stringify(join(PROJECT_ROOT, 'src', 'ca', 'ledger', 'sqlite.ts'))};
    import { sampleEntry } from ${JSON.stringify(join(PROJECT_ROOT, 'test', 'harness', 'ledger.ts'))};
    const ledger = SqliteLedger.open(process.argv[1]);
    for (let i = 10; i < 20; i++) {
      await ledger.record(sampleEntry('0a' + i));
      writeSync(1, 'recorded ' + i + '\\n');
    }
    await ledger.revoke('0a10', 'keyCompromise');
    writeSync(1, 'revoked\\n');
    await ledger.nextCrl('ff');
    writeSync(1, 'numbered\\n');
    await ledger.close();
  `;
  const log = join(dir, 'strace.log');
  const traced = await run(
    'strace',
    [
      '-f',
      '-qq',
      '-y',
      '-o',
      log,
      '-e',
      'trace=pwrite64,write,fdatasync,fsync',
      process.execPath,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
      join(dir, 'ledger.sqlite'),
    ],
    { cwd: PROJECT_ROOT },
  );
  t.is(traced.code, 0, traced.stderr);
  const unfinished = new Map<string, string>();
  const events: Array<'write' | 'sync' | 'said'> = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [, pid, rest] = /^(\d+)\s+(.*)$/.exec(line) ?? [];
    if (!pid || !rest) continue;
    if (rest.endsWith('<unfinished ...>')) {
      unfinished.set(pid, rest);
      continue;
    }
    const call = rest.startsWith('<...') ? `${unfinished.get(pid) ?? ''} ${rest}` : rest;
    if (!/= \d+$/.test(call)) continue;
    if (/^pwrite64\(\d+<[^>]*-wal>/.test(call)) events.push('write');
    else if (/^f(data)?sync\(\d+<[^>]*-wal>/.test(call)) events.push('sync');
    else if (/^write\(1</.test(call) && /(recorded|revoked|numbered)/.test(call)) events.push('said');
  }
  return events;
}

test('nothing is said to be recorded before the WAL that holds it is on disk', async (t) => {
  const events = await walTrace(t);
  t.is(events.filter((e) => e === 'said').length, 12, 'ten records, a revocation and a CRL number');
  // Each write, one at a time: after its WAL is written, a sync completes before it is said done.
  let unsynced = false;
  for (const event of events) {
    if (event === 'write') unsynced = true;
    else if (event === 'sync') unsynced = false;
    else t.false(unsynced, `said before the WAL was synced: ${events.join(' ')}`);
  }
});

test('a record waits for another connection holding the write lock, and goes in once it is released', async (t) => {
  const path = join(tempDir(t, 'keyward-ledger-lock-'), 'ledger.sqlite');
  const ledger = SqliteLedger.open(path);
  t.teardown(() => ledger.close());
  // Another connection (as another worker or `keyward ca revoke` would be) takes the write lock.
  const other = new Database(path);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  let settled = false;
  const recorded = ledger.record(sampleEntry('0c01')).finally(() => (settled = true));
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.false(settled, 'still waiting for the lock');
  other.exec('COMMIT');
  await t.notThrowsAsync(recorded);
  t.truthy(await ledger.get('0c01'));
});

test("a ledger written before serials kept their leading zero is brought to the certificate's form when opened", async (t) => {
  const path = join(tempDir(t, 'keyward-ledger-'), 'ledger.sqlite');
  const ledger = SqliteLedger.open(path);
  const entry = sampleEntry('0a0b0c', { subject: 'CN=old', der: Uint8Array.of(1) });
  await ledger.record(entry);
  await ledger.close();
  // What earlier versions stored for that certificate.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path);
  db.prepare(`UPDATE certificates SET serial = 'a0b0c'`).run();
  db.close();
  const reopened = SqliteLedger.open(path);
  t.like(await reopened.get(normalizeSerial('0A:0B:0C')), { subject: 'CN=old' });
  await reopened.close();
});

function sign(port: number, csr: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/cfssl/sign', method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString());
          resolve(body.success ? (body.result.certificate as string) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end(JSON.stringify({ certificate_request: csr }));
  });
}

test('kill the CA server in the middle of a load: every certificate a client received is in the ledger', async (t) => {
  const ca = await testCa(t);
  await ca.close();
  const csrs = await Promise.all(Array.from({ length: 40 }, (_, i) => nodeCsr(`OU=swarm-worker, CN=load-${i}`)));
  const env = { ...process.env, KEYWARD_PIN: USER_PIN };
  const first = await caServeProcess(['--dir', ca.directory.dir], env);
  t.teardown(() => first.child.kill('SIGKILL'));
  const port = first.port;
  const received: string[] = [];
  let killed = false;
  // 8 clients sign in a loop; the server is killed (SIGKILL, no goodbye) after 60 answers.
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; ; i++) {
        const certificate = await sign(port, csrs[(worker * 7 + i) % csrs.length]!.csrPem);
        if (!certificate) return; // the server is gone
        received.push(certificate);
        if (received.length >= 60 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    }),
  );
  t.true(received.length >= 60);
  const second = await caServeProcess(['--dir', ca.directory.dir], env);
  t.teardown(() => second.child.kill('SIGKILL'));
  t.truthy(await sign(second.port, csrs[0]!.csrPem), 'the restarted server issues again');
  second.child.kill('SIGTERM');
  await new Promise((resolve) => second.child.on('exit', resolve));
  const ledger = SqliteLedger.open(ca.directory.path('ledger.sqlite'));
  const serials = received.map((pem) => normalizeSerial(new X509Certificate(pem).serialNumber));
  t.is(new Set(serials).size, serials.length, 'no serial handed out twice');
  for (const serial of serials) t.truthy(await ledger.get(serial), `certificate ${serial} was recorded before it was returned`);
  await ledger.close();
});
