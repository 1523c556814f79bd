/**
 * Callers are admitted on the request's head, before its body is read and before its path is
 * routed: a caller the policy refuses (--client-auth managers, a worker) learns nothing of the
 * paths, and a request refused anyway (/sign without authsign where it is required) holds no body.
 */
import test from 'ava';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { nodeCsr, type TestCa } from '../../harness/ca.js';
import { post, servedFor, type ClientTls } from '../../harness/ca-server.js';

/** A node certificate and key of the test CA, for mutual TLS. */
async function credentials(ca: TestCa, subject: string): Promise<ClientTls> {
  const node = await nodeCsr(subject);
  return { key: node.keyPem, cert: (await ca.authority.issueNode(node.csrPem)).chainPem, ca: ca.directory.rootBundle() };
}

/**
 * Sends a request's head declaring `declared` body bytes and only `sent` of them, over TLS; resolves
 * with the status and the answer's body once a whole answer has come back (the rest of the body
 * is never sent), or rejects after `ms`, far above what a prompt answer takes.
 */
function headFirst(
  port: number,
  tls: ConnectionOptions,
  path: string,
  declared: number,
  sent: number,
  ms = 20_000,
): Promise<{ status: number; body: { errors: Array<{ code: number; message: string }> } }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...tls });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${ms} ms: the server waits for the body`));
    }, ms);
    let received = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
      if (head < 0 || length < 0 || received.length < head + 4 + length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(text.slice(9, 12)), body: JSON.parse(received.subarray(head + 4, head + 4 + length).toString()) });
    });
    socket.once('secureConnect', () =>
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n${'x'.repeat(sent)}`),
    );
  });
}

// Node's own timeouts far off: only admission on the head can answer these before the body ends.
const limits = { headersTimeoutMs: 60_000, requestTimeoutMs: 120_000, drainMs: 100 };

test('a caller the policy refuses is refused on the request head: no body read, no path routed', async (t) => {
  const { server, ca } = await servedFor(t, { tlsHosts: ['127.0.0.1'], clientAuth: 'managers', limits });
  const worker = await credentials(ca, 'OU=swarm-worker, CN=worker-1');
  // Not a 404 quoting the path: an unadmitted caller learns nothing of the API.
  const probe = await headFirst(server.port, worker, '/api/v1/cfssl/secret-endpoint', 2, 2);
  t.like(probe, { status: 403, body: { errors: [{ code: 403, message: 'only managers may request certificates' }] } });
  const sign = await headFirst(server.port, worker, '/api/v1/cfssl/sign', 60_000, 30_000);
  t.like(sign, { status: 403, body: { errors: [{ code: 403, message: 'only managers may request certificates' }] } });
  t.is(server.load().bodyBytes, 0, 'none of its body is held');
  // A manager is still served, and still told of an unknown path.
  const manager = await credentials(ca, 'OU=swarm-manager, CN=manager-1');
  const csr = JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=node-1')).csrPem });
  t.true((await post(server.url, '/api/v1/cfssl/sign', csr, manager)).body.success);
  t.is((await headFirst(server.port, manager, '/api/v1/cfssl/nothing', 2, 2)).status, 404);
});

test('with --require-authsign, /sign without a token is refused on the request head, before its body is read', async (t) => {
  const { server, ca } = await servedFor(t, { tlsHosts: ['127.0.0.1'], authKeys: new Map([['k', Buffer.alloc(32, 5)]]), requireAuthsign: true, limits });
  const roots = { ca: ca.directory.rootBundle() };
  const sign = await headFirst(server.port, roots, '/api/v1/cfssl/sign', 60_000, 30_000);
  t.like(sign, { status: 400, body: { errors: [{ code: 400, message: 'authentication required' }] } });
  t.is(server.load().bodyBytes, 0, 'none of its body is held');
  t.true((await post(server.url, '/api/v1/cfssl/info', '{}', roots)).body.success, '/info needs no token, as in cfssl');
});
