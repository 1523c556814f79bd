/** The private pcscd and served virtual YubiKeys of the tests: `keyward/testing`'s (src/testing/pcscd.ts), and commands that touch them. */
import { spawn } from 'node:child_process';
import { KEYWARD_BIN, keyward } from './run.js';

export {
  READER_NAME,
  pcscdUnavailable,
  serveVirtualCard,
  startPcscd,
  type PcscRig,
  type ServedVirtualCard,
  type VirtualCardOptions,
} from '../../src/testing/pcscd.js';

export interface TouchedRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether the card was waiting for the touch given. */
  touched: boolean;
}

/**
 * `keyward ARGS` as a process that touches the served virtual card (state file `statePath`) once the
 * command's "Touch your YubiKey…" notice shows; or, with `interrupt`, sends SIGINT at the notice instead.
 */
export async function runTouching(args: string[], env: NodeJS.ProcessEnv, statePath: string, interrupt = false): Promise<TouchedRun> {
  const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const read = new Promise((resolve) => child.on('close', resolve));
  let exitCode: number | undefined;
  let signal = null as NodeJS.Signals | null;
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, killedBy) => {
      signal = killedBy;
      resolve((exitCode = code ?? -1));
    }),
  );
  // The notice shows once the card has waited half a second; touch then, however slowly the command started.
  while (!/Touch your YubiKey/.test(stderr) && exitCode === undefined) await new Promise((r) => setTimeout(r, 50));
  let touched = false;
  if (interrupt) child.kill('SIGINT');
  while (!interrupt && !touched && exitCode === undefined) {
    touched = JSON.parse((await keyward(['yubikey', 'virtual', 'touch', '--state', statePath, '--json'], { env })).stdout).touched;
    if (!touched) await new Promise((r) => setTimeout(r, 100));
  }
  const code = await exited;
  await read;
  return { code, signal, stdout, stderr, touched };
}
