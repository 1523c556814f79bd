/**
 * `keyward`: one binary, noun-verb commands. This file wires the commands, the global options and
 * the one place errors become messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, KeywardError } from '../src/errors.js';
import { UriError } from '../src/keystore/uri.js';
import { caCommand } from './ca.js';
import { certCommand } from './cert.js';
import { demoCommand } from './demo/index.js';
import { doctorCommand } from './doctor.js';
import { examples } from './io.js';
import { keyCommand } from './key.js';
import { tokenCommand } from './token.js';
import { trustCommand } from './trust/index.js';
import { yubikeyCommand } from './yubikey.js';

const EXIT_CODES = `
Exit codes:
  0    success
  1    unexpected failure (a bug or an unclassified device error; --debug shows more)
  2    bad request: invalid option, malformed URI, CSR or certificate, unsupported algorithm
  3    not found: no such token, key, slot or certificate
  4    authentication: wrong or locked PIN, no PIN source, last PIN try kept
  5    unavailable: PKCS#11 module, reader or device missing
  6    verification failed
  7    conflict: label in use, ambiguous match
  130  cancelled
`;

const PIN_HELP = `
PINs are never taken from the command line. Keyward reads them from the URI's pin-source=file:…,
from KEYWARD_PIN (KEYWARD_SO_PIN, KEYWARD_NEW_PIN), or asks at the terminal.
`;

export function buildProgram(): Command {
  const program = new Command('keyward')
    .description('Keeps signing keys in hardware and puts them to work.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--json', 'machine-readable output (and errors) on stdout')
    .option('--module <path>', 'PKCS#11 module when a URI names none (default: KEYWARD_PKCS11_MODULE, then SoftHSM2)')
    .option('--allow-final-try', 'allow spending a PIN\'s last try without asking')
    .option('--no-input', 'never prompt; fail with a clear error instead')
    .option('--debug', 'print stacks with errors')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', examples(['keyward demo', 'keyward token init --label demo', "keyward key generate 'pkcs11:token=demo;object=signer' -a p256", 'keyward key list']) + PIN_HELP + EXIT_CODES);
  program.exitOverride();
  for (const command of [tokenCommand(), keyCommand(), certCommand(), yubikeyCommand(), caCommand(), trustCommand(), doctorCommand(), demoCommand()]) {
    program.addCommand(command);
  }
  // Every command inherits the exit override, so usage errors exit 2 rather than 1.
  const inherit = (command: Command) => {
    command.exitOverride();
    command.showHelpAfterError('(add --help for usage)');
    command.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);
  return program;
}

function renderError(error: unknown, json: boolean, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or the help/version it was asked for).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (error instanceof KeywardError) {
    if (json) {
      process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
    } else {
      let text = `keyward: ${error.message}\n`;
      if (error instanceof UriError) text += `${error.pointer()}\n`;
      if (error.hint) text += `hint: ${error.hint}\n`;
      process.stderr.write(text);
    }
    if (debug) process.stderr.write(`${error.stack}\n${error.cause ? `caused by: ${(error.cause as Error).stack ?? error.cause}\n` : ''}`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'UNEXPECTED', message } }, null, 2)}\n`);
  else process.stderr.write(`keyward: unexpected error: ${message}\nhint: this is likely a bug; run again with --debug and report what it prints\n`);
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return ExitCode.failure;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    const options = program.opts<{ json?: boolean; debug?: boolean }>();
    const json = options.json ?? argv.includes('--json');
    return renderError(error, json, options.debug ?? argv.includes('--debug'));
  }
}
