/** Reading inputs and writing outputs for commands: files, stdin/stdout, refusing binary on a TTY. */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { Option } from 'commander';
import { writableTarget, writeFileAtomic } from '../src/atomic-file.js';
import { fileProblem, KeywardError, keywardError } from '../src/errors.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { fromPemOrDer, pemBlocks } from '../src/x509/pem.js';

/**
 * A file a command reads, named by `flag` on its command line (`--csr`, `--in`, or an argument's
 * `<name>`); "-" is standard input. Every error names the option and the file and says what is wrong
 * in words: a file missing or unreadable is "not found" (exit 3), a directory a usage error.
 */
export function readInput(path: string, flag: string): Buffer {
  try {
    return path === '-' ? readFileSync(0) : readFileSync(path);
  } catch (cause) {
    const subject = `${flag} ${path === '-' ? '- (standard input)' : path}`;
    if ((cause as NodeJS.ErrnoException).code === 'EISDIR') throw keywardError('INPUT_NOT_A_FILE', `${subject} is a directory, not a file`, { cause });
    throw keywardError('INPUT_UNREADABLE', `${subject}: ${fileProblem(cause)}`, { cause, hint: 'check the path, and that this user may read the file' });
  }
}

/**
 * Reads a file (readInput) and decodes it with `parse`: whatever `parse` finds wrong with the
 * content is reported naming the option and the file too, with the error's own code and exit code.
 */
export async function parseInput<T>(path: string, flag: string, parse: (data: Buffer) => T | Promise<T>): Promise<T> {
  const data = readInput(path, flag);
  try {
    return await parse(data);
  } catch (error) {
    throw error instanceof KeywardError ? error.about(`${flag} ${path}`) : error;
  }
}

/** The certificates in a file: every PEM block, or one DER certificate; each must parse. None only where `allowEmpty` (an empty file). */
export function readCertificates(path: string, flag: string, options: { allowEmpty?: boolean } = {}): Promise<Uint8Array[]> {
  return parseInput(path, flag, (data) => {
    const blocks = pemBlocks(data, 'CERTIFICATE');
    if (blocks.length) return blocks.map((der) => (parseCertificate(der), der));
    if (options.allowEmpty && data.toString('latin1').trim() === '') return [];
    const der = fromPemOrDer(data, 'CERTIFICATE'); // another PEM block is named by its label
    try {
      parseCertificate(der);
    } catch {
      throw keywardError('CERTIFICATE_MISSING', 'it holds no certificate (PEM or DER)');
    }
    return [der];
  });
}

/** The one certificate a file holds (the first of a PEM bundle), as DER. */
export async function readCertificate(path: string, flag: string): Promise<Uint8Array> {
  return (await readCertificates(path, flag))[0]!;
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

/**
 * An option naming a directory the command writes files into (a ceremony's `--out <dir>`): a
 * directory there already, that this user may write, or a new one in a directory that exists and
 * is writable. Checked as the command line is read, like `outputOption`; the files in it are the
 * command's to refuse if they exist.
 */
export function outputDirectoryOption(flags: string, description: string): Option {
  const option = new Option(flags, description);
  outputOptions.add(option);
  return option.argParser((path: string) => {
    const shown = `${option.long} ${path}`;
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats)
      writableTarget(path, shown); // a new directory: where it goes must be writable
    else if (!stats.isDirectory())
      throw keywardError('OUTPUT_NOT_A_DIRECTORY', `${shown}: there is a file there, not a directory`, { hint: 'give a directory' });
    else {
      try {
        accessSync(path, constants.W_OK | constants.X_OK);
      } catch {
        throw keywardError('OUTPUT_DIRECTORY_NOT_WRITABLE', `${shown}: this user may not create files in it`, { hint: 'give a directory you can write' });
      }
    }
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
    throw keywardError('BINARY_TO_TERMINAL', 'refusing to write binary data to the terminal', {
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
