/**
 * Real Docker daemons (Debian's docker.io) for tests: each with its own data root, exec root, pid
 * file, socket and CLI configuration in a temporary directory, `--iptables=false --bridge=none`,
 * swarm ports on 127.0.0.1 only. Each runs in its own mount namespace, so the mounts dockerd makes
 * (its data root, network namespaces) go with it. No image is pulled. Needs root, as CI has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { run, type RunResult } from './run.js';

/** Debian's CLI, the one bootstrap installs with the daemon (another `docker` may come first on PATH). */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface Dockerd {
  dir: string;
  dataRoot: string;
  /** Runs the Docker CLI against this daemon. */
  docker(args: string[]): Promise<RunResult>;
  /** The CLI's answer, refusing a failure with its output. */
  must(args: string[]): Promise<string>;
  /** A free port on 127.0.0.1 for this daemon's swarm listener. */
  swarmPort: number;
  log(): string;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds, or fails after `timeoutMs` saying what it waited for (and the last answer). */
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
  writeFileSync(join(dir, 'daemon.json'), '{}\n'); // not /etc/docker/daemon.json: this daemon is the test's alone
  const child: ChildProcess = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'dockerd',
      '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
      '--host', `unix://${socket}`, '--config-file', join(dir, 'daemon.json'),
      '--iptables=false', '--ip6tables=false', '--bridge=none'],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  const append = (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > 4_000_000) log = log.slice(-2_000_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  const docker = (args: string[]) => run(DOCKER_CLI, args, { env });
  const stop = async () => {
    // SIGTERM lets dockerd leave its containerd and mounts tidy; the group is killed if it lingers.
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 20_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('dockerd to answer', async () => ((await docker(['version', '--format', '{{.Server.Version}}'])).code === 0 ? true : undefined), 60_000, 250);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log:\n${log.slice(-3000)}`);
  }
  return {
    dir,
    dataRoot: join(dir, 'root'),
    docker,
    must: async (args) => {
      const result = await docker(args);
      if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
      return result.stdout.trim();
    },
    swarmPort: await freePort(),
    log: () => log,
    stop,
  };
}

/** The certificate (chain, PEM) a swarm node holds now. */
export function nodeCertificate(daemon: Dockerd): string {
  return readFileSync(join(daemon.dataRoot, 'swarm', 'certificates', 'swarm-node.crt'), 'utf8');
}
