/**
 * A private pcscd for one test process, with two vsmartcard-vpcd readers named like a YubiKey's,
 * and virtual YubiKeys served into them by the real `keyward` binary (in child processes: a PC/SC
 * client and the card must not share an event loop). Real PC/SC programs (ykman, yubico-piv-tool,
 * OpenSC, ykcs11) see them as YubiKeys when given the rig's `env`.
 *
 * pcscd runs in its own mount namespace so that its /run/pcscd is a directory of ours; clients
 * find it through PCSCLITE_CSOCK_NAME (read once per process by pcsc-lite). Needs root (unshare),
 * pcscd, vsmartcard-vpcd and a C compiler (Debian: pcscd vsmartcard-vpcd gcc).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listReaders } from '../hsm/piv/transport/pcsc.js';
import type { FirmwareProfile } from '../hsm/virtual-yubikey/firmware.js';
import { NODELAY_SHIM_C } from './nodelay-shim.js';
import { onPath } from './commands.js';
import { freePort } from './ports.js';

export const READER_NAME = 'Yubico YubiKey OTP+FIDO+CCID';
const VPCD_DRIVERS = ['/usr/lib/pcsc/drivers/serial/libifdvpcd.so', '/usr/lib/x86_64-linux-gnu/pcsc/drivers/serial/libifdvpcd.so'];

/** The `keyward` binary of this package (a checkout or an installed copy), which serves the cards. */
function keywardBin(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'keyward') return join(dir, 'bin', 'keyward.js');
  }
  throw new Error(`cannot find the keyward package above ${fileURLToPath(import.meta.url)}`);
}

/** Why a private pcscd cannot run here, or false when it can: a test's `skip`, or `if (why) …`. */
export function pcscdUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'a private pcscd needs root (its own mount namespace)';
  if (!VPCD_DRIVERS.some((p) => existsSync(p))) return 'vsmartcard-vpcd is not installed (Debian: apt-get install vsmartcard-vpcd)';
  for (const [command, pkg] of [
    ['pcscd', 'pcscd'],
    ['unshare', 'util-linux'],
    ['gcc', 'gcc'],
  ] as const) {
    if (!onPath(command)) return `${command} is not installed (Debian: apt-get install ${pkg})`;
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * The TCP_NODELAY shim, compiled into the rig's own directory (a tenth of a second), so it goes with
 * the rig; a shared copy under a fixed name in /tmp would be code anyone could plant for root's pcscd.
 */
function nodelayShim(dir: string): string {
  const source = join(dir, 'nodelay-shim.c');
  const library = join(dir, 'nodelay-shim.so');
  writeFileSync(source, NODELAY_SHIM_C);
  const built = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', library, source, '-ldl'], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cannot build the pcscd TCP_NODELAY shim: ${built.stderr || built.error}`);
  return library;
}

export interface PcscRig {
  dir: string;
  /** Environment for PC/SC clients (this process is pointed at it too). */
  env: NodeJS.ProcessEnv;
  readers: [string, string];
  ports: [number, number];
  stop(): Promise<void>;
}

let current: PcscRig | undefined;

/** Starts pcscd (once per process) and points this process's PC/SC client at it. */
export async function startPcscd(): Promise<PcscRig> {
  if (current) return current;
  const driver = VPCD_DRIVERS.find((p) => existsSync(p));
  if (!driver) throw new Error('vsmartcard-vpcd is not installed (Debian: apt-get install vsmartcard-vpcd)');
  const dir = mkdtempSync(join(tmpdir(), 'keyward-pcscd-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  const socket = join(dir, 'run', 'pcscd.comm');
  try {
    mkdirSync(join(dir, 'run'));
    mkdirSync(join(dir, 'conf'));
    mkdirSync('/run/pcscd', { recursive: true });
    const port = await freePort(2);
    writeFileSync(
      join(dir, 'conf', 'vpcd'),
      `FRIENDLYNAME "${READER_NAME}"\nDEVICENAME /dev/null:0x${port.toString(16)}\nLIBPATH ${driver}\nCHANNELID 0x${port.toString(16)}\n`,
    );
    child = spawn('unshare', ['-m', 'sh', '-c', `mount --bind "${dir}/run" /run/pcscd && exec pcscd --foreground --config "${dir}/conf"`], {
      env: { ...process.env, LD_PRELOAD: nodelayShim(dir) },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const started = child;
    await waitFor('pcscd to start', () => existsSync(socket) || started.exitCode !== null);
    if (child.exitCode !== null) throw new Error(`pcscd exited: ${stderr}`);
    process.env.PCSCLITE_CSOCK_NAME = socket;
    await waitFor('the vpcd readers', () => listReaders().length === 2);
    return (current = rig(dir, child, socket, port));
  } catch (error) {
    // Nothing of a rig that did not start stays behind: not pcscd, not its directory.
    if (child) await stopChild(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function rig(dir: string, child: ChildProcess, socket: string, port: number): PcscRig {
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: socket };
  const readers: [string, string] = [`${READER_NAME} 00 00`, `${READER_NAME} 00 01`];
  return {
    dir,
    env,
    readers,
    ports: [port, port + 1],
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
      current = undefined;
    },
  };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface ServedVirtualCard {
  reader: string;
  statePath: string;
  /** Lines the card logged (APDUs with --log-apdus, events). */
  log: string[];
  /** APDUs the card answered so far. */
  apduCount(): number;
  /** The APDUs logged after the first `from` log lines, once the log has been quiet for a moment. */
  apdusSince(from: number): Promise<string[]>;
  stop(): Promise<void>;
}

export interface VirtualCardOptions {
  reader?: 0 | 1;
  firmware?: FirmwareProfile;
  serial?: number;
  touch?: 'auto' | 'manual';
  touchTimeoutSeconds?: number;
  /** Reuse an existing state file instead of creating one. */
  statePath?: string;
}

/** Creates a virtual YubiKey and serves it into one of the rig's readers. */
export async function serveVirtualCard(rig: PcscRig, options: VirtualCardOptions = {}): Promise<ServedVirtualCard> {
  const index = options.reader ?? 0;
  const reader = rig.readers[index];
  const statePath = options.statePath ?? join(rig.dir, `card-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  if (!options.statePath) {
    const args = ['yubikey', 'virtual', 'create', '--state', statePath, '--firmware', options.firmware ?? '5.7.1'];
    if (options.serial) args.push('--serial', String(options.serial));
    const created = spawnSync(process.execPath, [keywardBin(), ...args], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`virtual create failed: ${created.stderr}`);
  }
  const args = [
    'yubikey',
    'virtual',
    'serve',
    '--state',
    statePath,
    '--port',
    String(rig.ports[index]),
    '--log-apdus',
    '--touch',
    options.touch ?? 'auto',
    '--touch-delay',
    '100',
  ];
  if (options.touchTimeoutSeconds) args.push('--touch-timeout', String(options.touchTimeoutSeconds));
  const child = spawn(process.execPath, [keywardBin(), ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const log: string[] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    log.push(...lines);
  });
  await waitFor(`a card in "${reader}"`, () => listReaders().some((r) => r.name === reader && r.cardPresent) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`virtual serve exited: ${log.join('\n')}${partial}`);
  return {
    reader,
    statePath,
    log,
    apduCount: () => log.filter((l) => l.startsWith('> ')).length,
    apdusSince: async (from) => {
      // The card logs each APDU before answering it, but this process reads the log asynchronously.
      for (let seen = -1; seen !== log.length;) {
        seen = log.length;
        await sleep(50);
      }
      return log.slice(from).filter((l) => l.startsWith('> '));
    },
    stop: async () => {
      await stopChild(child);
      // pcscd notices a card left only at its next poll: wait for the reader to show empty.
      await waitFor(`"${reader}" to be empty`, () => !listReaders().some((r) => r.name === reader && r.cardPresent));
    },
  };
}
