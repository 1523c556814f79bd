/**
 * The CA server under test: a fresh test CA served on 127.0.0.1, clients that speak to it as
 * cfssl's clients and SwarmKit's managers do, and the exact requests SwarmKit sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ExecutionContext } from 'ava';
import { serveCa, type ServedCa } from '../../src/ca/server/serve.js';
import type { RunningServer } from '../../src/ca/server/server.js';
import { testCa, type TestCa } from './ca.js';
import { KEYWARD_BIN, run } from './run.js';
import { Cleanup } from './temp.js';

export interface Reply {
  status: number;
  body: {
    success: boolean;
    result: { certificate?: string } | null;
    errors: Array<{ code: number; message: string }>;
    messages: Array<{ code: number; message: string }>;
  };
}

export interface ClientTls {
  key?: string;
  cert?: string;
  ca?: string;
}

/** One request, JSON answer parsed; over HTTPS with `tls` (a client certificate for mutual TLS). */
export function post(url: string, path: string, body: string | Buffer, options: ClientTls & { method?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // SwarmKit's external CA client: TLS 1.2 at least, the cluster's roots, the manager's certificate (ca/external.go).
    const req = send(
      target,
      {
        method: options.method ?? 'POST',
        key: options.key,
        cert: options.cert,
        ca: options.ca,
        minVersion: 'TLSv1.2',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Serves a fresh test CA for `work`, and always stops both and removes the CA's directory. */
export async function withServer(options: Parameters<typeof serveCa>[2], work: (server: ServedCa, ca: TestCa) => Promise<void>): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const ca = await testCa(cleanup);
    try {
      const server = await serveCa(ca.directory, ca.keystore, { host: '127.0.0.1', port: 0, ...options });
      try {
        await work(server, ca);
      } finally {
        await server.close();
      }
    } finally {
      await ca.close();
    }
  } finally {
    await cleanup.run();
  }
}

/** Serves a fresh test CA for one test: stopped, and its directory removed, when the test ends (pass or fail). */
export async function servedFor(t: ExecutionContext, options: Parameters<typeof serveCa>[2]): Promise<{ server: ServedCa; ca: TestCa }> {
  const ca = await testCa(t);
  t.teardown(() => ca.close());
  const server = await serveCa(ca.directory, ca.keystore, { host: '127.0.0.1', port: 0, ...options });
  t.teardown(() => server.close());
  return { server, ca };
}

/** An /info request (answered with the CA's chain, about 1 KB) with a body of `bodyBytes` (at least 2). */
export function infoRequest(bodyBytes = 2): string {
  const body = bodyBytes > 2 ? JSON.stringify({ pad: 'x'.repeat(bodyBytes - 10) }) : '{}';
  return `POST /api/v1/cfssl/info HTTP/1.1\r\nHost: ca\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** A client's connection to the server, and the server's end of it. */
export interface Connection {
  socket: Socket;
  /** Resolves when the server's end closes: a paused client never hears it. */
  gone: Promise<void>;
  closed(): boolean;
}

/** Connects to `server` from 127.0.0.1 (over TLS with `tls`); destroyed when the test ends. */
export async function connectTo(t: ExecutionContext, server: RunningServer, tls?: ConnectionOptions): Promise<Connection> {
  const accepted = new Map<number, Socket>();
  const accept = (connection: Socket) => accepted.set(connection.remotePort!, connection);
  server.server.on('connection', accept);
  const socket = tls ? tlsConnect({ host: '127.0.0.1', port: server.port, ...tls }) : connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  try {
    await new Promise((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', resolve);
      socket.once('close', () => reject(new Error('the connection closed before it was established')));
    });
    for (let tries = 0; !accepted.has(socket.localPort!); tries++) {
      if (tries > 1_000) throw new Error('the server never saw the connection');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    server.server.off('connection', accept);
  }
  const end = accepted.get(socket.localPort!)!;
  return { socket, gone: end.destroyed ? Promise.resolve() : new Promise((resolve) => end.once('close', () => resolve())), closed: () => end.destroyed };
}

/**
 * A client that sends requests and never reads the answers: paused, so once its receive buffer and
 * the server's send buffer are full (about 4 MB on Linux), the server cannot finish writing an
 * answer. It pipelines `round` requests at a time (under the server's pipelining cap), each round
 * once the last is answered, until an answer is stuck; then it sends nothing more (a TLS server
 * drops a connection that keeps sending while its parser waits for the answers to go out).
 * Resolves once an answer is stuck.
 */
export async function neverReading(
  t: ExecutionContext,
  server: RunningServer,
  { tls, request = infoRequest(), round = 10 }: { tls?: ConnectionOptions; request?: string; round?: number } = {},
): Promise<Connection> {
  const connection = await connectTo(t, server, tls);
  const { socket } = connection;
  socket.pause();
  // Answers to this connection handed to the kernel; `progress` wakes the wait below at each.
  let written = 0;
  let progress = () => {};
  const count = (req: IncomingMessage, res: ServerResponse) => {
    if (req.socket.remotePort !== socket.localPort) return;
    res.once('finish', () => {
      written++;
      progress();
    });
  };
  server.server.on('request', count);
  try {
    for (let sent = round; sent <= 2_000 * round; sent += round) {
      if (connection.closed()) throw new Error(`the server closed the connection after ${written} answers, none of them stuck`);
      socket.write(request.repeat(round));
      // Wait until the round is answered, or half a second passes without an answer going out: one is stuck.
      let quiet: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        progress = () => {
          clearTimeout(quiet);
          if (written >= sent) resolve();
          else quiet = setTimeout(resolve, 500);
        };
        progress();
      });
      clearTimeout(quiet);
      if (written < sent) return connection;
    }
    throw new Error(`${written} answers went out and none is stuck: is the client reading?`);
  } finally {
    server.server.off('request', count);
  }
}

export interface SwarmNode {
  csrPem: string;
  keyPem: string;
}

/**
 * A node's key and CSR as SwarmKit makes them: ca.GenerateNewCSR calls cfssl's csr.ParseRequest
 * with nothing but a key request (ECDSA P-256), so the CSR's subject is empty. `cfssl genkey`
 * runs that same function.
 */
export async function swarmNodeCsr(): Promise<SwarmNode> {
  const result = await run('cfssl', ['genkey', '-'], { input: JSON.stringify({ key: { algo: 'ecdsa', size: 256 } }) });
  if (result.code !== 0) throw new Error(`cfssl genkey failed: ${result.stderr}`);
  const { csr, key } = JSON.parse(result.stdout) as { csr: string; key: string };
  return { csrPem: csr, keyPem: key };
}

/**
 * The body SwarmKit's managers POST to an external CA: Go's json.Marshal of cfssl's
 * signer.SignRequest (cfssl v1.6.4, SwarmKit's vendored version) as ca.PrepareCSR fills it: the
 * node's identity in `subject` (CN = node ID, names = [{O: cluster, OU: role}]), hosts = [role,
 * node ID] (+ "swarm-ca" for managers), and the zero values Go writes for the other fields.
 */
export function swarmSignRequest(csrPem: string, nodeId: string, role: 'swarm-manager' | 'swarm-worker', clusterId: string): string {
  const hosts = role === 'swarm-manager' ? [role, nodeId, 'swarm-ca'] : [role, nodeId];
  const q = JSON.stringify;
  return (
    `{"hosts":${q(hosts)},"certificate_request":${q(csrPem)},` +
    `"subject":{"CN":${q(nodeId)},"names":[{"O":${q(clusterId)},"OU":${q(role)}}],"SerialNumber":""},` +
    `"profile":"","crl_override":"","label":"","NotBefore":"0001-01-01T00:00:00Z","NotAfter":"0001-01-01T00:00:00Z","ReturnPrecert":false,"metadata":null}`
  );
}

export interface CaServeProcess {
  child: ChildProcess;
  port: number;
  /** The exit code, once it has exited. */
  exited: Promise<number>;
  /** What it has written to stderr so far. */
  stderr(): string;
}

/** `keyward ca serve` as its own process, on a port the kernel picks; resolves once it says where it listens. */
export async function caServeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<CaServeProcess> {
  const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'ca', 'serve', '--listen', '127.0.0.1:0', ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /serving cfssl's API at https?:\/\/[^:]+:(\d+)/.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`keyward ca serve exited with ${code}: ${stderr}`)));
  });
  return { child, port, exited, stderr: () => stderr };
}
