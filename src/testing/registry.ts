/**
 * A throw-away OCI registry (Debian's `docker-registry`, docker/distribution 2.8) for tests and
 * demos: storage in a directory of the caller's, listening on 127.0.0.1 only, plain HTTP or TLS
 * with a certificate the caller gives, and optionally Basic authentication (htpasswd, bcrypt made
 * with Python's crypt module, as distribution wants bcrypt). Stopped and nothing left by `stop()`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { waitUntil } from './dockerd.js';
import { freePort } from './ports.js';

export interface RegistryServerOptions {
  /** A directory of the caller's for the configuration and storage. */
  dir: string;
  /** TLS: the server's certificate and key (PEM). */
  tls?: { certificate: string; key: string; ca: string };
  /** Basic authentication for this one user. */
  user?: { name: string; password: string };
}

export interface RegistryServer {
  /** `127.0.0.1:PORT`, as image references name it. */
  host: string;
  port: number;
  url: string;
  /** The manifests' and blobs' storage (to look at, or to tamper with). */
  storage: string;
  log(): string;
  stop(): Promise<void>;
}

/** Why a throw-away registry cannot run here, or false when it can. */
export function registryUnavailable(): string | false {
  return onPath('docker-registry') ? false : 'docker-registry is not installed (Debian: apt-get install docker-registry)';
}

/** A bcrypt htpasswd line (distribution reads only bcrypt). */
function htpasswdLine(name: string, password: string): string {
  const result = spawnSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'],
    {
      input: password,
      encoding: 'utf8',
    },
  );
  const hash = result.stdout.trim();
  if (result.status !== 0 || !hash.startsWith('$2')) throw new Error(`cannot make a bcrypt hash with python3's crypt: ${result.stderr}`);
  return `${name}:${hash}\n`;
}

export async function startRegistry(options: RegistryServerOptions): Promise<RegistryServer> {
  const port = await freePort();
  const storage = join(options.dir, 'storage');
  mkdirSync(storage, { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: keyward-test-${port}`,
  ];
  if (options.tls) {
    writeFileSync(join(options.dir, 'tls.crt'), options.tls.certificate);
    writeFileSync(join(options.dir, 'tls.key'), options.tls.key, { mode: 0o600 });
    lines.push('  tls:', `    certificate: ${join(options.dir, 'tls.crt')}`, `    key: ${join(options.dir, 'tls.key')}`);
  }
  if (options.user) {
    writeFileSync(join(options.dir, 'htpasswd'), htpasswdLine(options.user.name, options.user.password), { mode: 0o600 });
    lines.push('auth:', '  htpasswd:', '    realm: keyward-test', `    path: ${join(options.dir, 'htpasswd')}`);
  }
  const config = join(options.dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  };
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    await waitUntil('docker-registry to answer /v2/', () => answers(url, options.tls?.ca), 30_000, 100);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log ends:\n${log.slice(-3000)}`, { cause: error });
  }
  return { host: `127.0.0.1:${port}`, port, url, storage, log: () => log, stop };
}

/** True once the registry answers /v2/ (200, or 401 when it wants credentials). */
function answers(url: string, ca: string | undefined): Promise<true | undefined> {
  return new Promise((resolve) => {
    const send = url.startsWith('https') ? httpsRequest : request;
    const req = send(`${url}/v2/`, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401 ? true : undefined);
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
