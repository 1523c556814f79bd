/** Reading inputs and writing outputs for commands: files, stdin/stdout, refusing binary on a TTY. */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/atomic-file.js';
import { keywardError } from '../src/errors.js';

export function readInput(path: string, what: string): Buffer {
  try {
    return path === '-' ? readFileSync(0) : readFileSync(path);
  } catch (cause) {
    throw keywardError('INPUT_UNREADABLE', `cannot read ${what} from ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { cause });
  }
}

/** Writes to a file atomically, or to stdout; binary never goes to a terminal. */
export function writeOutput(path: string | undefined, data: Uint8Array | string, binary: boolean): void {
  if (path && path !== '-') {
    writeFileAtomic(path, data);
    return;
  }
  if (binary && process.stdout.isTTY) {
    throw keywardError('BINARY_TO_TERMINAL', 'refusing to write binary data to the terminal', {
      hint: 'give --out FILE, pipe the output, or ask for --base64',
    });
  }
  process.stdout.write(data);
}
