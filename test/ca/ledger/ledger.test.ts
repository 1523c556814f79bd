/**
 * The issuance ledger: every certificate recorded before it is handed out, serials unique, nothing
 * lost when the CA server is killed in the middle of a load.
 */
import test from 'ava';
import { request } from 'node:http';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { SqliteLedger } from '../../../src/ca/ledger/sqlite.js';
import { normalizeSerial } from '../../../src/ca/ledger/ledger.js';
import { nodeCsr, testCa } from '../../harness/ca.js';
import { caServeProcess } from '../../harness/ca-server.js';
import { checkLedgerRules, sampleEntry } from '../../harness/ledger.js';
import { USER_PIN } from '../../harness/keystore.js';
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
  t.is(normalizeSerial('00:AB:C1:23'), 'abc123');
  t.is(normalizeSerial('A:0B'), '0a0b', 'typed without its leading zero: found all the same');
  t.is(normalizeSerial('0x0A0B'), '0a0b');
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
