/** Help text: examples after a command's options, the exit codes and the error codes, from their tables. */
import { ERROR_CODES, EXIT_CODES, exitCodeOf, type ErrorCode } from '../src/error-codes.js';

/** Help text: a block of examples after the options. */
export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** `text` in lines of at most `width` characters, each after the first indented by `indent` (not counted). */
export function wrap(text: string, width: number, indent: string): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    const line = lines[lines.length - 1]!;
    if (line && line.length + 1 + word.length > width) lines.push(word);
    else lines[lines.length - 1] = line ? `${line} ${word}` : word;
  }
  return lines.join(`\n${indent}`);
}

/** After `keyward --help`'s options: every exit code and what it means (src/error-codes.ts). */
export function exitCodesHelp(): string {
  const rows = Object.values(EXIT_CODES).map(({ code, meaning }) => `  ${String(code).padEnd(5)}${wrap(meaning, 93, '       ')}`);
  return `\nExit codes:\n${rows.join('\n')}\n(keyward help errors: every error code, with its exit code and meaning)\n`;
}

export interface ErrorCodeRow {
  code: ErrorCode;
  exitCode: number;
  meaning: string;
}

/** Every error code, its exit code and what it means, in the registry's (alphabetical) order. */
export function errorCodeRows(): ErrorCodeRow[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => ({ code, exitCode: exitCodeOf(code), meaning: ERROR_CODES[code].meaning }));
}

/** `keyward help errors`: the error codes as a table for people. */
export function errorCodesHelp(): string {
  const rows = errorCodeRows();
  const width = Math.max(...rows.map((r) => r.code.length));
  const indent = ' '.repeat(2 + width + 2 + 4 + 2);
  const lines = rows.map(
    ({ code, exitCode, meaning }) => `  ${code.padEnd(width)}  ${String(exitCode).padStart(4)}  ${wrap(meaning, 100 - indent.length, indent)}`,
  );
  return [
    'Every error Keyward reports has one of these codes; with --json it is error.code, and the process',
    "exits with the code's exit code (keyward --help says what each exit code means). trust client",
    'exits 1 on any failure, as the TUF conformance protocol wants.',
    '',
    `  ${'code'.padEnd(width)}  exit  meaning`,
    ...lines,
    '',
  ].join('\n');
}
