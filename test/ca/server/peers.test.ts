/**
 * Who may connect to `keyward ca serve` with mutual TLS, and what the operator is told: every
 * refused client logged with its reason and its address; a swarm's own root trusted for that
 * swarm's managers only while the bootstrap lasts; a node revoked while its keep-alive connection
 * is open loses that connection when the CRLs are reloaded.
 */
import test from 'ava';
import { webcrypto } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { revokeCertificate, signIntermediateCrl } from '../../../src/ca/steps/revocation.js';
import * as x509 from '../../../src/x509/peculiar.js';
import { serveCa } from '../../../src/ca/server/serve.js';
import { nodeCsr, testCa, type TestCa } from '../../harness/ca.js';
import { uniqueLabel } from '../../harness/softhsm.js';
import { post, withServer, type ClientTls } from '../../harness/ca-server.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/**
 * A swarm's own CA, as `swarm init` makes it (CN=swarm-ca, self-signed: the same name as the test
 * CA's root, another key), and a node certificate from it.
 */
async function swarmRoot(): Promise<{ pem: string; issue(subject: string): Promise<ClientTls> }> {
  const keys = (await webcrypto.subtle.generateKey(EC, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: 'CN=swarm-ca',
      keys,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    webcrypto,
  );
  return {
    pem: root.toString('pem'),
    async issue(subject) {
      const node = await nodeCsr(subject);
      const leaf = await x509.X509CertificateGenerator.create(
        {
          subject,
          issuer: root.subject,
          publicKey: await new x509.Pkcs10CertificateRequest(node.csrPem).publicKey.export(webcrypto),
          signingKey: keys.privateKey,
          notBefore: new Date(Date.now() - 60_000),
          notAfter: new Date(Date.now() + 86_400_000),
          signingAlgorithm: EC,
          extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth])],
        },
        webcrypto,
      );
      return { key: node.keyPem, cert: leaf.toString('pem') };
    },
  };
}

async function nodeIdentity(ca: TestCa, subject: string): Promise<ClientTls & { serial: string }> {
  const node = await nodeCsr(subject);
  const issued = await ca.authority.issueNode(node.csrPem);
  return { key: node.keyPem, cert: issued.chainPem, serial: issued.serial };
}

const signRequest = async () => JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=new-node')).csrPem });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test("every refused client is logged with its reason and its address: no certificate, a stranger's, not TLS at all", async (t) => {
  const log: string[] = [];
  await withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'cluster', log: (line) => log.push(line) }, async (server, ca) => {
    const roots = ca.directory.rootBundle();
    await t.throwsAsync(post(server.url, '/api/v1/cfssl/sign', await signRequest(), { ca: roots }));
    const stranger = await (await swarmRoot()).issue(`O=${ca.clusterId}, OU=swarm-manager, CN=stranger`);
    await t.throwsAsync(post(server.url, '/api/v1/cfssl/sign', await signRequest(), { ...stranger, ca: roots }));
    // Not TLS at all: the handshake fails, and the log still names who it was.
    await new Promise<void>((resolve) => {
      const raw = netConnect(server.port, '127.0.0.1', () => raw.end('GET / HTTP/1.1\r\n\r\n'));
      raw.on('error', () => undefined).on('close', () => resolve());
    });
  });
  t.true(
    log.some((l) => /^TLS handshake with 127\.0\.0\.1:\d+ failed: \S+/.test(l)),
    log.join('\n'),
  );
  t.true(
    log.some((l) => /^refused TLS client 127\.0\.0\.1:\d+: it sent no client certificate$/.test(l)),
    log.join('\n'),
  );
  t.true(
    log.some((l) =>
      /^refused TLS client 127\.0\.0\.1:\d+ \(.*CN=stranger\): its chain names an issuer this CA trusts, but that issuer did not sign it \(another CA of the same name\?\) \(CERT_SIGNATURE_FAILURE\)$/.test(
        l,
      ),
    ),
    log.join('\n'),
  );
});

test('a revoked node is refused at the handshake, and logged as revoked', async (t) => {
  const log: string[] = [];
  await withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'cluster', crlReloadMs: 200, log: (line) => log.push(line) }, async (server, ca) => {
    const roots = ca.directory.rootBundle();
    const worker = await nodeIdentity(ca, 'OU=swarm-worker, CN=worker-1');
    t.true(
      (
        await post(server.url, '/api/v1/cfssl/sign', JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=worker-1')).csrPem }), {
          ...worker,
          ca: roots,
        })
      ).body.success,
    );
    await revokeCertificate(ca.directory, { serial: worker.serial, reason: 'keyCompromise' });
    await signIntermediateCrl(ca.directory, ca.keystore);
    // The server reloads its CRLs every 200 ms here: asked until it refuses (bounded, for a loaded machine).
    const request = await signRequest();
    let refused = false;
    for (let tries = 0; !refused && tries < 100; tries++) {
      refused = await post(server.url, '/api/v1/cfssl/sign', request, { ...worker, ca: roots }).then(
        () => false,
        () => true,
      );
      if (!refused) await sleep(200);
    }
    t.true(refused, 'refused once the CRL is reloaded');
  });
  t.true(
    log.some((l) => /^refused TLS client 127\.0\.0\.1:\d+ \(.*CN=worker-1\): its certificate is revoked \(CERT_REVOKED\)$/.test(l)),
    log.join('\n'),
  );
});

test('a keep-alive connection of a node revoked meanwhile is closed when the CRLs are reloaded', async (t) => {
  const log: string[] = [];
  await withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'cluster', crlReloadMs: 200, log: (line) => log.push(line) }, async (server, ca) => {
    const worker = await nodeIdentity(ca, 'OU=swarm-worker, CN=worker-1');
    const socket: TLSSocket = await new Promise((resolve, reject) => {
      const s = tlsConnect(
        { host: '127.0.0.1', port: server.port, key: worker.key, cert: worker.cert, ca: ca.directory.rootBundle(), servername: '127.0.0.1' },
        () => resolve(s),
      );
      s.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    // The connection is admitted and answered before the revocation …
    socket.write('POST /api/v1/cfssl/info HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    const first = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    t.regex(first, /^HTTP\/1\.1 200/);
    await revokeCertificate(ca.directory, { serial: worker.serial, reason: 'keyCompromise' });
    await signIntermediateCrl(ca.directory, ca.keystore);
    // … and cut at the next reload, without another request.
    await Promise.race([closed, sleep(30_000).then(() => t.fail("the revoked node's connection stayed open"))]);
  });
  t.true(
    log.some((l) => /^closing the connection of 127\.0\.0\.1:\d+ \(.*CN=worker-1\): its certificate has been revoked$/.test(l)),
    log.join('\n'),
  );
});

test("bootstrap: a swarm manager with a certificate from the swarm's own root gets its first Keyward certificate, while the bootstrap lasts", async (t) => {
  const swarm = await swarmRoot();
  const clusterId = uniqueLabel('cluster');
  // Every identity is made before the server starts: the window is short, and only requests run inside it.
  const [manager, worker, otherCluster] = await Promise.all([
    swarm.issue(`O=${clusterId}, OU=swarm-manager, CN=m1`),
    swarm.issue(`O=${clusterId}, OU=swarm-worker, CN=w1`),
    swarm.issue('O=another-cluster, OU=swarm-manager, CN=m9'),
  ]);
  const ca = await testCa(t, { clusterId });
  t.teardown(() => ca.close());
  const [keywardManager, requests] = await Promise.all([nodeIdentity(ca, 'OU=swarm-manager, CN=m1'), Promise.all(Array.from({ length: 5 }, signRequest))]);
  const roots = ca.directory.rootBundle();
  const log: string[] = [];
  const server = await serveCa(ca.directory, ca.keystore, {
    host: '127.0.0.1',
    port: 0,
    tlsHosts: ['127.0.0.1'],
    clientAuth: 'managers',
    bootstrapRoot: swarm.pem,
    bootstrapMs: 5_000,
    crlReloadMs: 200, // reloads across the window's end rebuild the trust without re-judging the root
    log: (line) => log.push(line),
  });
  t.teardown(() => server.close());
  const first = await post(server.url, '/api/v1/cfssl/sign', requests[0]!, { ...manager, ca: roots });
  t.true(first.body.success, JSON.stringify(first.body.errors));
  // Only managers, and only of this cluster.
  await t.throwsAsync(post(server.url, '/api/v1/cfssl/sign', requests[1]!, { ...worker, ca: roots }));
  t.is((await post(server.url, '/api/v1/cfssl/sign', requests[2]!, { ...otherCluster, ca: roots })).status, 403);
  // A connection the bootstrap admitted is closed when it ends, even one kept alive by a busy client.
  const kept: TLSSocket = await new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, key: manager.key, cert: manager.cert, ca: roots, servername: '127.0.0.1' }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
  kept.on('error', () => undefined);
  const bootstrapOver = /closing the connection of 127\.0\.0\.1:\d+ \(.*CN=m1\): the bootstrap with the swarm's own root is over/;
  await new Promise<void>((resolve) => kept.once('close', () => resolve()));
  t.true(
    log.some((line) => bootstrapOver.test(line)),
    'closed because the bootstrap ended',
  );
  // After the bootstrap the swarm's root counts for nothing; a Keyward manager certificate is unaffected.
  await t.throwsAsync(post(server.url, '/api/v1/cfssl/sign', requests[3]!, { ...manager, ca: roots }));
  t.true((await post(server.url, '/api/v1/cfssl/sign', requests[4]!, { ...keywardManager, ca: roots })).body.success);
  const lines = log.join('\n');
  t.regex(lines, /admitted TLS client 127\.0\.0\.1:\d+ \(.*CN=m1\): a manager with a certificate from the swarm's own root \(bootstrap until /);
  t.regex(lines, /refused TLS client 127\.0\.0\.1:\d+ \(.*CN=w1\): only managers may use the swarm's own root/);
  t.regex(
    lines,
    /refused TLS client 127\.0\.0\.1:\d+ \(.*CN=m1\): its certificate is from the swarm's own root, trusted only until .* \(the bootstrap is over\)/,
  );
});

test("without a bootstrap root the swarm's managers are refused; a bootstrap root needs mutual TLS and must be a self-signed CA", async (t) => {
  const swarm = await swarmRoot();
  const log: string[] = [];
  await withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'managers', log: (line) => log.push(line) }, async (server, ca) => {
    const manager = await swarm.issue(`O=${ca.clusterId}, OU=swarm-manager, CN=m1`);
    await t.throwsAsync(post(server.url, '/api/v1/cfssl/sign', await signRequest(), { ...manager, ca: ca.directory.rootBundle() }));
  });
  t.regex(log.join('\n'), /refused TLS client .*CN=m1\): its chain names an issuer this CA trusts, but that issuer did not sign it/);
  await t.throwsAsync(
    withServer({ tlsHosts: ['127.0.0.1'], bootstrapRoot: swarm.pem }, async () => undefined),
    { code: 'BOOTSTRAP_NEEDS_MTLS' },
  );
  const leaf = await swarm.issue('O=c, OU=swarm-manager, CN=m1');
  await t.throwsAsync(
    withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'managers', bootstrapRoot: leaf.cert! }, async () => undefined),
    { code: 'BOOTSTRAP_ROOT_INVALID' },
  );
});
