/**
 * A throw-away notary-server (Debian's `notary` package, notary 0.7) on 127.0.0.1 and a free port:
 * memory storage, the local trust service (the server holds its timestamp key, and the snapshot key
 * when asked), TLS with a certificate OpenSSL makes for 127.0.0.1 in the server's own temporary
 * directory. And the real `notary` client, pointed at it, for tests that read back what Keyward
 * published. Nothing here is for trust data that matters: it is gone when the server stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { runCommand, type CommandResult } from './dockerd.js';
import { freePort } from './ports.js';

/** Why a notary-server cannot run here, or false when it can. */
export function notaryServerUnavailable(): string | false {
  for (const command of ['notary-server', 'notary', 'openssl']) {
    if (!onPath(command)) return `${command} is not installed (Debian: apt-get install notary openssl)`;
  }
  return false;
}

export interface NotaryServerRig {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The PEM file of the CA that issued the server's TLS certificate (for --tls-ca and notary's --tlscacert). */
  caFile: string;
  dir: string;
  /** Runs the real `notary` client against this server with its own trust directory (`trustDir`), passphrases in its environment. */
  notary(args: string[], trustDir: string): Promise<CommandResult>;
  log(): string;
  stop(): Promise<void>;
}

/** The passphrase the `notary` client's keys get from the environment (test keys only). */
export const NOTARY_TEST_PASSPHRASE = 'keyward-test-passphrase';

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/** A CA, and a server certificate it issues for 127.0.0.1 and localhost. */
function makeTls(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Keyward test notary CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'],
    dir,
  );
}

function healthy(url: string, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${url}/v2/`, { ca, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

export async function startNotaryServer(): Promise<NotaryServerRig> {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-notary-server-'));
  let child: ChildProcess | undefined;
  try {
    makeTls(dir);
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const config = {
      server: { http_addr: `127.0.0.1:${port}`, tls_cert_file: join(dir, 'server.crt'), tls_key_file: join(dir, 'server.key') },
      trust_service: { type: 'local' },
      storage: { backend: 'memory' },
      logging: { level: 'info' },
    };
    writeFileSync(join(dir, 'server.json'), JSON.stringify(config));
    let log = '';
    child = spawn('notary-server', ['-config', join(dir, 'server.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    const ca = readFileSync(join(dir, 'ca.crt'));
    for (let attempt = 0; !(await healthy(url, ca)); attempt++) {
      if (child.exitCode !== null || attempt > 100) throw new Error(`notary-server did not start:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const server = child;
    return {
      url,
      caFile: join(dir, 'ca.crt'),
      dir,
      notary: (args, trustDir) =>
        runCommand('notary', ['-s', url, '--tlscacert', join(dir, 'ca.crt'), '-d', trustDir, ...args], {
          ...process.env,
          NOTARY_ROOT_PASSPHRASE: NOTARY_TEST_PASSPHRASE,
          NOTARY_TARGETS_PASSPHRASE: NOTARY_TEST_PASSPHRASE,
          NOTARY_SNAPSHOT_PASSPHRASE: NOTARY_TEST_PASSPHRASE,
          NOTARY_DELEGATION_PASSPHRASE: NOTARY_TEST_PASSPHRASE,
        }),
      log: () => log,
      stop: async () => {
        if (server.exitCode === null) {
          server.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
