/**
 * Clients that send requests and never read the answers. Before the send timeout, such a client
 * held its connection "being answered" for ever: the load shedder never picked it, and the bodies
 * of its requests stayed in memory; enough of them locked every legitimate client out. Each
 * attack runs over plain HTTP, over TLS with --require-authsign (an attacker with no key), and over
 * mutual TLS (--client-auth cluster, a worker's certificate). Last, the pipelining cap: requests
 * piling up behind an unread answer, or sent by the thousand at once.
 */
import test, { type ExecutionContext } from 'ava';
import { createHmac } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import type { ServedCa } from '../../../src/ca/server/serve.js';
import type { ServerLimits } from '../../../src/ca/server/server.js';
import { nodeCsr, type TestCa } from '../../harness/ca.js';
import { connectTo, infoRequest, neverReading, post, servedFor, type ClientTls } from '../../harness/ca-server.js';

const AUTH_KEY = Buffer.alloc(32, 9);
const ATTACKERS = 3;

/** Resolves when `gone` does; fails after `ms`, a bound generous for a loaded machine. */
const closedWithin = (gone: Promise<void>, ms = 20_000) =>
  Promise.race([gone, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms).unref())]);

interface Setting {
  name: string;
  options: Parameters<typeof servedFor>[1];
  /** How the attacker connects (undefined: plain TCP). */
  attacker(ca: TestCa): Promise<ConnectionOptions | undefined>;
  /** A legitimate request in this setting; resolves with whether it got its certificate. */
  legitimate(server: ServedCa, ca: TestCa): Promise<boolean>;
}

const csrBody = async (name: string) => JSON.stringify({ certificate_request: (await nodeCsr(`OU=swarm-worker, CN=${name}`)).csrPem });

/** A node certificate and key of the test CA, for mutual TLS. */
async function credentials(ca: TestCa, subject: string): Promise<ClientTls> {
  const node = await nodeCsr(subject);
  return { key: node.keyPem, cert: (await ca.authority.issueNode(node.csrPem)).chainPem, ca: ca.directory.rootBundle() };
}

const SETTINGS: Setting[] = [
  {
    name: 'plain HTTP',
    options: {},
    attacker: async () => undefined,
    legitimate: async (server) => (await post(server.url, '/api/v1/cfssl/sign', await csrBody('prompt'))).body.success,
  },
  {
    name: 'TLS with --require-authsign, an attacker with no key',
    options: { tlsHosts: ['127.0.0.1'], authKeys: new Map([['k', AUTH_KEY]]), requireAuthsign: true },
    attacker: async (ca) => ({ ca: ca.directory.rootBundle() }),
    legitimate: async (server, ca) => {
      const inner = Buffer.from(await csrBody('prompt'));
      const token = createHmac('sha256', AUTH_KEY).update(inner).digest('base64');
      const reply = await post(server.url, '/api/v1/cfssl/authsign', JSON.stringify({ token, request: inner.toString('base64') }), {
        ca: ca.directory.rootBundle(),
      });
      return reply.body.success;
    },
  },
  {
    name: 'mutual TLS (--client-auth cluster), a worker',
    options: { tlsHosts: ['127.0.0.1'], clientAuth: 'cluster' },
    attacker: (ca) => credentials(ca, 'OU=swarm-worker, CN=never-reads'),
    legitimate: async (server, ca) =>
      (await post(server.url, '/api/v1/cfssl/sign', await csrBody('prompt'), await credentials(ca, 'OU=swarm-manager, CN=manager'))).body.success,
  },
];

/** The server of `setting` with `limits`, and `ATTACKERS` connections whose answers are stuck. */
async function underAttack(t: ExecutionContext, setting: Setting, limits: Partial<ServerLimits>, request = infoRequest()) {
  const { server, ca } = await servedFor(t, { ...setting.options, limits: { drainMs: 100, ...limits } });
  const tls = await setting.attacker(ca);
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => neverReading(t, server, { tls, request })));
  return { server, ca, attackers };
}

for (const setting of SETTINGS) {
  test(`${setting.name}: at the connection cap, a client that never reads its answers is shed for a prompt client`, async (t) => {
    // The send timeout is far off: only shedding can make room.
    const { server, ca, attackers } = await underAttack(t, setting, { maxConnections: ATTACKERS, sendTimeoutMs: 120_000 });
    t.true(await setting.legitimate(server, ca), 'the prompt client is served');
    await closedWithin(Promise.race(attackers.map((attacker) => attacker.gone)));
    t.pass('a connection with a stuck answer was cut off');
  });

  test(`${setting.name}: an answer not taken within the send timeout closes its connection`, async (t) => {
    const { attackers } = await underAttack(t, setting, { sendTimeoutMs: 2_000 });
    await Promise.all(attackers.map((attacker) => closedWithin(attacker.gone)));
    t.pass();
  });
}

test('the body of a request is released once its answer is computed, whether or not the client reads it', async (t) => {
  const bodyBytes = 500;
  const legitimate = JSON.stringify({ certificate_request: (await nodeCsr('OU=swarm-worker, CN=prompt')).csrPem, label: 'x'.repeat(150_000) });
  // Room for the legitimate body and 1,000 bytes more: it fits only if no stuck answer keeps its body.
  const limits = { maxBodyBytes: 256 * 1024, maxBodiesInFlightBytes: Buffer.byteLength(legitimate) + 1_000, sendTimeoutMs: 120_000 };
  const { server } = await underAttack(t, SETTINGS[0]!, limits, infoRequest(bodyBytes));
  // A request the server was reading when it stopped may hold part of its body; one answered holds none.
  t.true(server.load().bodyBytes < ATTACKERS * bodyBytes, `body bytes held: ${server.load().bodyBytes}`);
  t.true((await post(server.url, '/api/v1/cfssl/sign', legitimate)).body.success, 'a prompt request with a large body is served');
});

// Node's own timeouts (a request half read when the server stopped reading) and the send timeout far off: only the pipelining cap can close these connections.
const longTimeouts = { sendTimeoutMs: 120_000, headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 };

test('a client that never reads and keeps sending is cut off once 16 of its requests wait for answers', async (t) => {
  const { server } = await servedFor(t, { limits: { maxPipelinedRequests: 16, ...longTimeouts } });
  const attacker = await neverReading(t, server);
  // One request at a time, each in a turn of its own: they pile up behind the stuck answer.
  for (let i = 0; i < 40 && !attacker.closed(); i++) {
    attacker.socket.write(infoRequest());
    await new Promise((r) => setTimeout(r, 20));
  }
  await closedWithin(attacker.gone);
  t.is(server.load().requests, 0, 'none of its requests is held');
});

test('a client that sends more than 16 requests at once is cut off: the server answers none beyond them', async (t) => {
  let answered = 0;
  const { server } = await servedFor(t, { limits: { maxPipelinedRequests: 16, ...longTimeouts }, log: (line) => / 200 /.test(line) && answered++ });
  const flood = await connectTo(t, server);
  // 1,000 requests in one write: Node parses all a read brings, and each would be answered before any other client's.
  flood.socket.write(infoRequest().repeat(1_000));
  flood.socket.resume();
  await closedWithin(flood.gone);
  t.true(answered <= 16, `${answered} answered`);
  t.true((await post(server.url, '/api/v1/cfssl/info', '{}')).body.success, 'the server goes on serving');
});
