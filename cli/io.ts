/** Reading inputs and writing outputs for commands: files, stdin/stdout, refusing binary on a TTY. */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { writableTarget, writeFileAtomic } from '../src/atomic-file.js';
import { NotFoundError, UsageError } from '../src/errors.js';

export function readInput(path: string, what: string): Buffer {
  try {
    return path === '-' ? readFileSync(0) : readFileSync(path);
  } catch (cause) {
    throw new NotFoundError('INPUT_UNREADABLE', `cannot read ${what} from ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { cause });
  }
}

const outputOptions = new WeakSet<Option>();

/**
 * An option naming a file the command writes (`-o, --out <file>`, `--chain-out <file>` …). The path
 * is checked as the command line is read, so before any device is asked for anything (a PIN, a
 * signature, a touch): a path Keyward could not write is a usage error naming the option, the path
 * and why. "-" is standard output.
 */
export function outputOption(flags: string, description: string): Option {
  const option = new Option(flags, description);
  outputOptions.add(option);
  return option.argParser((path: string) => {
    if (path !== '-') writableTarget(path, `${option.long} ${path}`);
    return path;
  });
}

/** Whether a command's option was made by `outputOption` (every option that names a file to write is). */
export function isOutputOption(option: Option): boolean {
  return outputOptions.has(option);
}

/** Refuses binary output headed for a terminal; commands call it before the work, writeOutput again after. */
export function checkStdout(path: string | undefined, binary: boolean): void {
  if ((!path || path === '-') && binary && process.stdout.isTTY) {
    throw new UsageError('BINARY_TO_TERMINAL', 'refusing to write binary data to the terminal', {
      hint: 'give --out FILE, pipe the output, or ask for --base64',
    });
  }
}

/** Writes to a file atomically, or to stdout; binary never goes to a terminal. */
export function writeOutput(path: string | undefined, data: Uint8Array | string, binary: boolean): void {
  if (path && path !== '-') {
    writeFileAtomic(path, data);
    return;
  }
  checkStdout(path, binary);
  process.stdout.write(data);
}
