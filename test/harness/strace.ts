/**
 * A signal at an exact moment, with no timing: the `keyward` binary runs under strace, which sends
 * the signal when the process (any of its threads) enters one of the given system calls on one path.
 */
import { onPath } from '../../src/testing/commands.js';
import { KEYWARD_BIN, run, type RunOptions, type RunResult } from './run.js';

export interface SignalPoint {
  /** The file, as the process opens it. */
  path: string;
  /** System calls on it, e.g. ['ftruncate'] (SoftHSM empties a file) or ['write', 'pwrite64']. */
  syscalls: string[];
  signal: NodeJS.Signals;
}

/**
 * Runs `keyward --no-input …args` and sends `at.signal` each time it enters one of `at.syscalls` on
 * `at.path`. strace dies of the signal its tracee died of, so `signal` in the result is the command's.
 */
export function keywardSignalledAt(args: string[], at: SignalPoint, options: RunOptions = {}): Promise<RunResult> {
  if (!onPath('strace')) throw new Error('strace is not installed (npm test installs it; Debian: apt-get install strace)');
  const calls = at.syscalls.join(',');
  return run(
    'strace',
    [
      '-f',
      '-qq',
      '-o',
      '/dev/null',
      '-P',
      at.path,
      '-e',
      `trace=${calls}`,
      '-e',
      `inject=${calls}:signal=${at.signal}`,
      process.execPath,
      KEYWARD_BIN,
      '--no-input',
      ...args,
    ],
    options,
  );
}
