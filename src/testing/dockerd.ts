/**
 * Throw-away Docker daemons (Debian's docker.io) for demos and tests: each with its own data root,
 * exec root, pid file, socket and CLI configuration in a temporary directory, `--iptables=false
 * --bridge=none`, its swarm listener on 127.0.0.1 only. Each runs in its own mount namespace, so
 * the mounts dockerd makes (its data root, network namespaces) go with it. No image is pulled.
 * Needs root and `unshare`, `dockerd` and `docker` on the machine.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { freePort } from './ports.js';

/** Debian's CLI, installed with the daemon (another `docker` may come first on PATH). */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why a throw-away dockerd cannot run here, or false when it can: a test's `skip` (node:test), or `if (why) …`. */
export function dockerdUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'dockerd needs root';
  for (const tool of ['dockerd', 'unshare']) {
    if (!onPath(tool)) return `${tool} is not installed (Debian: apt-get install docker.io)`;
  }
  return false;
}

export interface Dockerd {
  dir: string;
  dataRoot: string;
  /** The environment that points the Docker CLI at this daemon. */
  env: NodeJS.ProcessEnv;
  /** A free port on 127.0.0.1 for this daemon's swarm listener. */
  swarmPort: number;
  /** Runs the Docker CLI against this daemon. */
  docker(args: string[]): Promise<CommandResult>;
  /** The CLI's output, trimmed; a failure is thrown with its output. */
  must(args: string[]): Promise<string>;
  /** The certificate (PEM) the node holds now, once it is in a swarm. */
  nodeCertificate(): string;
  log(): string;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command to its end, collecting its output. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Polls `check` until it gives a value, or fails after `timeoutMs` saying what it waited for. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function startDockerd(): Promise<Dockerd> {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-dockerd-'));
  const socket = join(dir, 'docker.sock');
  writeFileSync(join(dir, 'daemon.json'), '{}\n'); // not /etc/docker/daemon.json: this daemon is the caller's alone
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'dockerd',
      '--data-root',
      join(dir, 'root'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${socket}`,
      '--config-file',
      join(dir, 'daemon.json'),
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-1_000_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  const docker = (args: string[]) => runCommand(DOCKER_CLI, args, env);
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    // SIGTERM lets dockerd stop its containerd and leave tidy; the whole group is killed if it lingers.
    signal('SIGTERM');
    const kill = setTimeout(() => signal('SIGKILL'), 20_000);
    await exited;
    clearTimeout(kill);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      'dockerd to answer',
      async () => ((await docker(['version', '--format', '{{.Server.Version}}'])).code === 0 ? true : undefined),
      60_000,
      250,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log ends:\n${log.slice(-3000)}`, { cause: error });
  }
  return {
    dir,
    dataRoot: join(dir, 'root'),
    env,
    swarmPort: await freePort(),
    docker,
    must: async (args) => {
      const result = await docker(args);
      if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
      return result.stdout.trim();
    },
    nodeCertificate: () => readFileSync(join(dir, 'root', 'swarm', 'certificates', 'swarm-node.crt'), 'utf8'),
    log: () => log,
    stop,
  };
}
