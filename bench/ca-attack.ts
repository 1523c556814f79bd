/**
 * The CA server under attack, as a separate `keyward ca serve` process on loopback: legitimate
 * clients sign in a loop while slowloris connections trickle headers and a flood of clients sends
 * 64 KiB bodies it never finishes; then while clients send requests, a few at a time without
 * waiting for answers, and never read one.
 * Reported: the server's resident memory (before, at its peak, after) and the share of legitimate
 * requests answered with a certificate, before, during each attack and after. Every loop is
 * bounded in time and count, and every connection goes to 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterIntermediate } from '../src/ca/steps/intermediate.js';
import { createRootCa } from '../src/ca/steps/root.js';
import { CaDirectory } from '../src/ca/store.js';
import { Keystore } from '../src/keystore/keystore.js';
import { KeyUri } from '../src/keystore/uri/origin.js';
import { Secret } from '../src/secret.js';
import { nodeCsr } from '../test/harness/ca.js';
import { caServeProcess, infoRequest } from '../test/harness/ca-server.js';

const PIN = 'attack-pin';
const LEGITIMATE_CLIENTS = 4;
const SLOWLORIS_CONNECTIONS = 400;
const FLOOD_CLIENTS = 4_000;
const FLOOD_BODY = 64 * 1024;
const NEVER_READING_CONNECTIONS = 600;
/** Each never-reading client sends this many /info requests (about 1 KB of answer each) every 100 ms. */
const NEVER_READING_BATCH = 10;
const NEVER_READING_EVERY_MS = 100;
const PHASE_SECONDS = { before: 4, during: 10, after: 4 };

export interface AttackPhase {
  phase: 'before' | 'slowloris + body flood' | 'never-reading clients' | 'after';
  legitimate: { ok: number; failed: number; successRate: number };
  rssMb: { start: number; peak: number; end: number };
}

export interface AttackResult {
  phases: AttackPhase[];
  attackers: { slowlorisConnections: number; floodClients: number; floodBodyKiB: number; connectionsClosedByServer: number; answered503: number };
  neverReading: { connections: number; requestsPerSecondEach: number; connectionsClosedByServer: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

function sign(agent: Agent, port: number, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/cfssl/sign', method: 'POST', agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode === 200 && Buffer.concat(chunks).includes('"success":true')));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** Legitimate clients signing in a loop for `seconds`; the server's memory sampled meanwhile. */
async function legitimateLoad(phase: AttackPhase['phase'], pid: number, port: number, bodies: string[], seconds: number): Promise<AttackPhase> {
  const agent = new Agent({ keepAlive: true, maxSockets: LEGITIMATE_CLIENTS });
  const rss = { start: rssMb(pid), peak: rssMb(pid), end: 0 };
  const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, rssMb(pid))), 200);
  let ok = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: LEGITIMATE_CLIENTS }, async (_, worker) => {
      for (let i = worker; performance.now() < end; i += LEGITIMATE_CLIENTS) {
        if (await sign(agent, port, bodies[i % bodies.length]!)) ok++;
        else failed++;
      }
    }),
  );
  clearInterval(sampler);
  agent.destroy();
  rss.end = rssMb(pid);
  rss.peak = Math.max(rss.peak, rss.end);
  return { phase, legitimate: { ok, failed, successRate: ok / Math.max(1, ok + failed) }, rssMb: rss };
}

/** Attackers for `seconds`: slowloris connections and a flood of unfinished 64 KiB bodies, reconnecting when cut off. */
function attack(port: number, seconds: number): { done: Promise<void>; stats: AttackResult['attackers'] } {
  const stats = {
    slowlorisConnections: SLOWLORIS_CONNECTIONS,
    floodClients: FLOOD_CLIENTS,
    floodBodyKiB: FLOOD_BODY / 1024,
    connectionsClosedByServer: 0,
    answered503: 0,
  };
  const end = Date.now() + seconds * 1000;
  const sockets = new Set<Socket>();
  const open = (onConnect: (socket: Socket) => void): void => {
    if (Date.now() >= end) return;
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => d.toString('latin1').startsWith('HTTP/1.1 503') && stats.answered503++);
    socket.on('close', () => {
      sockets.delete(socket);
      if (Date.now() < end) stats.connectionsClosedByServer++;
    });
    socket.on('connect', () => onConnect(socket));
  };
  // Slowloris: a header line every second, never the blank line that ends them; reconnect when cut off.
  const slowloris = (socket: Socket) => {
    socket.write('POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: ca\r\n');
    const drip = setInterval(() => (socket.writable ? socket.write(`X-Slow-${Date.now()}: 1\r\n`) : clearInterval(drip)), 1_000);
    socket.on('close', () => {
      clearInterval(drip);
      open(slowloris);
    });
  };
  for (let i = 0; i < SLOWLORIS_CONNECTIONS; i++) open(slowloris);
  // The flood: clients each send all but the last byte of a 64 KiB body and wait, in waves of 500.
  const body = Buffer.alloc(FLOOD_BODY - 1, 0x61);
  const flood = (socket: Socket) => {
    socket.write(`POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: ca\r\nContent-Length: ${FLOOD_BODY}\r\n\r\n`);
    socket.write(body);
  };
  const waves = (async () => {
    for (let sent = 0; sent < FLOOD_CLIENTS && Date.now() < end; sent += 500) {
      for (let i = 0; i < 500; i++) open(flood);
      await sleep(500);
    }
  })();
  const done = (async () => {
    await waves;
    while (Date.now() < end) await sleep(100);
    for (const socket of sockets) socket.destroy();
  })();
  return { done, stats };
}

/**
 * Attackers for `seconds`: clients that send /info requests, a few at a time without waiting for
 * answers, and never read one (answers pile up in the kernel's buffers, then in the server);
 * reconnecting when cut off (paused, a socket hears of it only when its next write fails).
 */
function neverReading(port: number, seconds: number): { done: Promise<void>; stats: AttackResult['neverReading'] } {
  const stats = {
    connections: NEVER_READING_CONNECTIONS,
    requestsPerSecondEach: (NEVER_READING_BATCH * 1000) / NEVER_READING_EVERY_MS,
    connectionsClosedByServer: 0,
  };
  const end = Date.now() + seconds * 1000;
  const sockets = new Set<Socket>();
  const batch = Buffer.from(infoRequest().repeat(NEVER_READING_BATCH));
  const open = (): void => {
    if (Date.now() >= end) return;
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.pause();
    socket.on('error', () => undefined);
    const send = setInterval(() => socket.write(batch), NEVER_READING_EVERY_MS);
    socket.on('close', () => {
      clearInterval(send);
      sockets.delete(socket);
      if (Date.now() < end) {
        stats.connectionsClosedByServer++;
        open();
      }
    });
  };
  for (let i = 0; i < NEVER_READING_CONNECTIONS; i++) open();
  const done = (async () => {
    while (Date.now() < end) await sleep(100);
    for (const socket of sockets) socket.destroy();
  })();
  return { done, stats };
}

export async function benchCaAttack(): Promise<AttackResult> {
  // Two tokens in one keystore: each its own PIN variable (KEYWARD_PIN goes to one device), set once it exists.
  const env: NodeJS.ProcessEnv = {};
  const keystore = new Keystore({ env });
  const pkcs11 = await keystore.administration('pkcs11');
  for (const label of ['attack-root', 'attack-online'])
    env[pkcs11.initToken('pkcs11:', { label, soPin: Secret.fromString('attack-so'), userPin: Secret.fromString(PIN) }).pinVariable!] = PIN;
  const directory = new CaDirectory(mkdtempSync(join(tmpdir(), 'keyward-bench-attack-')));
  const rootKey = KeyUri.of('pkcs11:token=attack-root;object=root');
  await createRootCa(directory, keystore, { key: rootKey, generate: 'p256' });
  await createClusterIntermediate(directory, keystore, {
    rootKey,
    key: KeyUri.of('pkcs11:token=attack-online;object=intermediate'),
    generate: 'p256',
    clusterId: 'attack',
  });
  await keystore.close();
  const bodies = (await Promise.all(Array.from({ length: 32 }, (_, i) => nodeCsr(`OU=swarm-worker, CN=legit-${i}`)))).map((c) =>
    JSON.stringify({ certificate_request: c.csrPem }),
  );

  // One process: its memory is what the limits bound (a worker of several would be another process's).
  const served = await caServeProcess(['--dir', directory.dir, '--workers', '1'], { ...process.env, KEYWARD_PIN: PIN });
  const server = served.child;
  try {
    const port = served.port;
    const pid = server.pid!;
    const phases: AttackPhase[] = [await legitimateLoad('before', pid, port, bodies, PHASE_SECONDS.before)];
    const attackers = attack(port, PHASE_SECONDS.during);
    phases.push(await legitimateLoad('slowloris + body flood', pid, port, bodies, PHASE_SECONDS.during));
    await attackers.done;
    await sleep(2_000); // the server's timers reap what the attackers left
    const unread = neverReading(port, PHASE_SECONDS.during);
    phases.push(await legitimateLoad('never-reading clients', pid, port, bodies, PHASE_SECONDS.during));
    await unread.done;
    await sleep(5_000); // for a few seconds the server still works through requests its receive buffers held
    phases.push(await legitimateLoad('after', pid, port, bodies, PHASE_SECONDS.after));
    return { phases, attackers: attackers.stats, neverReading: unread.stats };
  } finally {
    server.kill('SIGKILL');
    await served.exited;
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
