/** Running the real binaries a test talks to (keyward itself, openssl, pkcs11-tool, p11tool …). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
export const KEYWARD_BIN = join(PROJECT_ROOT, 'bin', 'keyward.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
  /** The signal that ended the process, if one did (then `code` is -1). */
  signal?: NodeJS.Signals;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Uint8Array;
  cwd?: string;
  /** Run as this user (the tests run as root, whom no permission bit stops). */
  user?: { uid: number; gid: number };
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], ...options.user });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code: code ?? -1,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
        ...(signal ? { signal } : {}),
      });
    });
    // A child may exit without reading its input (EPIPE): that is its business, not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the built `keyward` binary (npm test builds it first). */
export function keyward(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [KEYWARD_BIN, '--no-input', ...args], options);
}
