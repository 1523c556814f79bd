/**
 * The CA server under test: a fresh test CA served on 127.0.0.1, clients that speak to it as
 * cfssl's clients and SwarmKit's managers do, and the exact requests SwarmKit sends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { serveCa, type ServedCa } from '../../src/ca/server/serve.js';
import { testCa, type TestCa } from './ca.js';
import { KEYWARD_BIN, run } from './run.js';
import { Cleanup } from './temp.js';

export interface Reply {
  status: number;
  body: { success: boolean; result: { certificate?: string } | null; errors: Array<{ code: number; message: string }>; messages: Array<{ code: number; message: string }> };
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
    const req = send(target, { method: options.method ?? 'POST', key: options.key, cert: options.cert, ca: options.ca, minVersion: 'TLSv1.2', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
        } catch (error) {
          reject(error);
        }
      });
    });
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
  const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'ca', 'serve', '--listen', '127.0.0.1:0', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
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
