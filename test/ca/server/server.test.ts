/**
 * `keyward ca serve` speaks cfssl's API: the real cfssl client signs through it (plain and
 * authsign), a Node HTTPS client with a node certificate does over mutual TLS, and bad requests
 * get cfssl-style errors while the server goes on serving.
 */
import test from 'ava';
import fc from 'fast-check';
import { createHmac, X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCsr } from '../../harness/ca.js';
import { crlFile } from '../../../src/ca/store.js';
import * as x509 from '../../../src/x509/peculiar.js';
import { post, withServer } from '../../harness/ca-server.js';
import { run } from '../../harness/run.js';
import { tempDir } from '../../harness/temp.js';

const AUTH_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

test('the cfssl client signs a CSR through Keyward, plainly and with authsign', (t) =>
  withServer({ authKeys: new Map([['k1', AUTH_KEY]]) }, async (server, ca) => {
    const dir = tempDir(t, 'keyward-cfssl-');
    const csr = join(dir, 'node.csr');
    writeFileSync(csr, (await nodeCsr('OU=swarm-worker, CN=cfssl-node')).csrPem);
    const plain = await run('cfssl', ['sign', '-remote', server.url, csr]);
    t.is(plain.code, 0, plain.stderr);
    const plainCert = new X509Certificate(JSON.parse(plain.stdout).cert);
    t.is(plainCert.subject, `O=${ca.clusterId}\nOU=swarm-worker\nCN=cfssl-node`);
    const config = join(dir, 'client.json');
    writeFileSync(
      config,
      JSON.stringify({
        signing: { default: { auth_remote: { remote: 'ca', auth_key: 'k1' } } },
        auth_keys: { k1: { type: 'standard', key: AUTH_KEY.toString('hex') } },
        remotes: { ca: server.url },
      }),
    );
    const auth = await run('cfssl', ['sign', '-config', config, csr]);
    t.is(auth.code, 0, auth.stderr);
    t.truthy(new X509Certificate(JSON.parse(auth.stdout).cert).serialNumber);
    writeFileSync(
      config,
      JSON.stringify({
        signing: { default: { auth_remote: { remote: 'ca', auth_key: 'k1' } } },
        auth_keys: { k1: { type: 'standard', key: 'ff'.repeat(16) } },
        remotes: { ca: server.url },
      }),
    );
    const wrongKey = await run('cfssl', ['sign', '-config', config, csr]);
    t.not(wrongKey.code, 0);
    t.regex(wrongKey.stderr, /invalid token/);
    const info = await run('cfssl', ['info', '-remote', server.url]);
    t.regex(JSON.parse(info.stdout).certificate, /BEGIN CERTIFICATE/);
  }));

test('over mutual TLS, a node certificate authenticates the caller; managers-only refuses a worker', (t) =>
  withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'managers' }, async (server, ca) => {
    const manager = await nodeCsr('OU=swarm-manager, CN=manager-1');
    const worker = await nodeCsr('OU=swarm-worker, CN=worker-1');
    const managerCert = (await ca.authority.issueNode(manager.csrPem)).chainPem;
    const workerCert = (await ca.authority.issueNode(worker.csrPem)).chainPem;
    const csr = (await nodeCsr('OU=swarm-worker, CN=new-node')).csrPem;
    const roots = ca.directory.rootBundle();
    const signed = await post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: csr }), {
      key: manager.keyPem,
      cert: managerCert,
      ca: roots,
    });
    t.true(signed.body.success, JSON.stringify(signed.body.errors));
    const answered = signed.body.result!.certificate!;
    t.is(answered.match(/BEGIN CERTIFICATE/g)?.length, 1, 'the certificate alone, as cfssl answers (SwarmKit appends its own chain)');
    t.true(new X509Certificate(answered).checkIssued(new X509Certificate(ca.directory.read('cluster-ca.pem')!)), 'issued by the cluster CA the swarm trusts');
    const refused = await post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: csr }), {
      key: worker.keyPem,
      cert: workerCert,
      ca: roots,
    });
    t.is(refused.status, 403);
    t.regex(refused.body.errors[0]!.message, /only managers/);
    await t.throwsAsync(
      post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: csr }), { ca: roots }),
      undefined,
      'no client certificate: the connection is closed',
    );
  }));

/** The certificate a TLS server presents, verified against `roots` (a connection that fails to verify rejects). */
function presentedCertificate(url: string, roots: string): Promise<{ serial: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: roots }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve({ serial: peer.serialNumber });
    });
    socket.on('error', reject);
  });
}

test("the server's own TLS certificate is renewed while it runs, and still chains to the cluster root", (t) =>
  withServer({ tlsHosts: ['127.0.0.1'], serverRenewMs: 300 }, async (server, ca) => {
    const roots = ca.directory.rootBundle();
    const first = await presentedCertificate(server.url, roots);
    await new Promise((r) => setTimeout(r, 900));
    const later = await presentedCertificate(server.url, roots);
    t.not(later.serial, first.serial, 'a new certificate');
    const servers = (await ca.authority.ledger.list()).filter((e) => e.profile === 'server');
    t.true(servers.length >= 2, 'each renewal is in the ledger');
  }));

test("bad requests get cfssl's errors, and the server keeps serving", (t) =>
  withServer({ authKeys: new Map([['k1', AUTH_KEY]]), limits: { headersTimeoutMs: 1000 } }, async (server) => {
    const sign = (body: string | Buffer) => post(server.url, '/api/v1/cfssl/sign', body);
    t.like(await sign('not json'), { status: 400, body: { success: false, errors: [{ code: 400, message: 'Unable to parse sign request' }] } });
    t.like(await sign(JSON.stringify({ certificate_request: 'garbage' })), { status: 400, body: { errors: [{ code: 9002, message: 'CSR Decode failed' }] } });
    t.like(await sign(JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=x')).csrPem, profile: 'nope' })), {
      status: 400,
      body: { errors: [{ code: 5200 }] },
    });
    // SwarmKit asks profile "CA" to cross-sign a new root: an intermediate (pathLen 0) must not, and says where it is done.
    const crossSign = await sign(JSON.stringify({ certificate_request: (await nodeCsr('CN=new root')).csrPem, profile: 'CA' }));
    t.like(crossSign, { status: 400, body: { errors: [{ code: 5200 }] } });
    t.regex(crossSign.body.errors[0]!.message, /keyward ca rotate-root/);
    t.like(await sign(JSON.stringify({ certificate_request: (await nodeCsr('O=other, OU=swarm-worker, CN=x')).csrPem })), {
      status: 400,
      body: { errors: [{ code: 5300 }] },
    });
    const inner = Buffer.from(JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=y')).csrPem }));
    const wrong = createHmac('sha256', Buffer.alloc(16, 1)).update(inner).digest('base64');
    t.like(await post(server.url, '/api/v1/cfssl/authsign', JSON.stringify({ token: wrong, request: inner.toString('base64') })), {
      status: 400,
      body: { errors: [{ message: 'invalid token' }] },
    });
    const good = createHmac('sha256', AUTH_KEY).update(inner).digest('base64');
    t.true((await post(server.url, '/api/v1/cfssl/authsign', JSON.stringify({ token: good, request: inner.toString('base64') }))).body.success);
    t.like(await post(server.url, '/api/v1/cfssl/sign', '', { method: 'GET' }), { status: 405 });
    t.like(await post(server.url, '/api/v1/cfssl/nothing', '{}'), { status: 404 });
    // An oversized body is refused outright.
    const big = await post(server.url, '/api/v1/cfssl/sign', Buffer.alloc(200_000, 0x61)).catch((error: Error) => error);
    t.true(big instanceof Error || big.status === 413);
    // A slow client is cut off rather than holding the server.
    const slow = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: ca\r\n'));
      socket.on('data', (d) => resolve(d.toString()));
      socket.on('close', () => resolve('closed'));
    });
    t.regex(slow, /closed|408/);
    // Still serving:
    t.true((await sign(JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=still-here')).csrPem }))).body.success);
  }));

test('property: random bodies and mangled CSRs always get an envelope, never crash the server', (t) =>
  withServer({}, async (server) => {
    const base = (await nodeCsr('OU=swarm-worker, CN=fuzz')).csrPem;
    const der = Buffer.from(base.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const mangled = fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: der.length })).map(([at, value, cut]) => {
      const copy = Buffer.from(der);
      copy[at] = value;
      return `-----BEGIN CERTIFICATE REQUEST-----\n${copy.subarray(0, Math.max(cut, 10)).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    });
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      mangled.map((csr) => JSON.stringify({ certificate_request: csr })),
      fc
        .record({
          certificate_request: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          profile: fc.oneof(fc.string({ maxLength: 8 }), fc.constant('node')),
        })
        .map((r) => JSON.stringify(r)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const reply = await post(server.url, '/api/v1/cfssl/sign', b);
        t.true(typeof reply.body.success === 'boolean' && Array.isArray(reply.body.errors));
        t.true(reply.status === 200 || (reply.status >= 400 && reply.status < 500), `status ${reply.status}`);
      }),
      { numRuns: 300 },
    );
    t.true((await post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: base }))).body.success);
  }));

test("with mutual TLS the intermediate's CRL is signed again at half its life: an expired CRL would refuse every client", (t) =>
  withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'managers', crlReloadMs: 200 }, async (server, ca) => {
    const manager = await nodeCsr('OU=swarm-manager, CN=crl-manager');
    const credentials = { key: manager.keyPem, cert: (await ca.authority.issueNode(manager.csrPem)).chainPem, ca: ca.directory.rootBundle() };
    // A CRL good for one second, as a server left running past a week would hold.
    ca.directory.saveCrl('intermediate', await ca.authority.crl(1 / 86_400));
    const nextUpdate = () => new x509.X509Crl(ca.directory.read(crlFile('intermediate'))!).nextUpdate!.getTime();
    while (nextUpdate() < Date.now() + 6 * 86_400_000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1_500)); // past the short CRL's end, and the reload that follows
    const csr = (await nodeCsr('OU=swarm-worker, CN=after-crl')).csrPem;
    t.true((await post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: csr }), credentials)).body.success, 'managers still get in');
  }));
