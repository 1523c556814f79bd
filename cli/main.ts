/**
 * `keyward`: one binary, noun-verb commands. This file wires the commands, the global options and
 * the one place errors become messages and exit codes.
 *
 * It starts at once because it loads only what the command line asks for, in two steps:
 * - a noun's commands are defined by its module (cli/<noun>.ts, or cli/<noun>/index.ts for a noun
 *   with a file per sub-noun), loaded when commander dispatches to that noun; `keyward --help` and
 *   `--version` need only the names and descriptions below (cli/lazy-commands.ts; a noun may name
 *   its own commands the same way, as trust does, so that `trust client` loads no signing code);
 * - a noun's modules import statically only commander, the CLI's helpers and small modules without
 *   dependencies (errors, PEM, secrets, algorithm tables), so `<noun> … --help` is light too. An
 *   action imports the code that does the work (device drivers, the CA, x509, SQLite) when it
 *   runs, with `await import(…)`, and gets its keystore from `await CliContext.of(command)`.
 * test/cli/entry.test.ts holds every command's help to that.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitCode, KeywardError, keywardError, type CodeOf, type ErrorCode } from '../src/errors.js';
import { errorCodeRows, errorCodesHelp, examples, exitCodesHelp } from './help.js';
import { addLazyCommands, defineLazyCommand, type LazyCommand } from './lazy-commands.js';

/** The nouns, as `keyward --help` lists them, and where each one's commands are defined. */
const NOUNS: Record<string, LazyCommand> = {
  token: { description: 'PKCS#11 tokens: list, initialise (SoftHSM), change and unblock PINs', define: async () => (await import('./token.js')).defineToken },
  key: { description: 'generate, list, use and delete keys held in hardware', define: async () => (await import('./key.js')).defineKey },
  cert: {
    description: 'certificates stored with keys, and self-signed certificates signed in the device',
    define: async () => (await import('./cert.js')).defineCert,
  },
  yubikey: {
    description: 'YubiKey PIV devices: list, info, PINs, management key, reset, attestation, and the virtual YubiKey',
    define: async () => (await import('./yubikey/index.js')).defineYubikey,
  },
  ca: {
    description: 'a cluster PKI: offline root, per-cluster intermediate, node certificates, CRLs, root rotation, cfssl-compatible server',
    define: async () => (await import('./ca/index.js')).defineCa,
  },
  ceremony: {
    description:
      'key ceremonies from reviewed scripts: checked before any device opens, witnessed, with a hash-chained, signed transcript and a printable report',
    define: async () => (await import('./ceremony/index.js')).defineCeremony,
  },
  trust: {
    description: 'TUF 1.0 repositories signed in hardware (thresholds across devices, delegations, touch-to-sign) and a conformant TUF client',
    define: async () => (await import('./trust/index.js')).defineTrust,
  },
  notary: {
    description: 'Docker Content Trust (Notary v1) on a notary-server, every key in a device: init a GUN, sign and revoke tags, signers, key rotation',
    define: async () => (await import('./notary/index.js')).defineNotary,
  },
  image: {
    description: 'container images signed in hardware where cosign, podman, skopeo and CRI-O look (cosign format, in the registry): sign, verify, list',
    define: async () => (await import('./image/index.js')).defineImage,
  },
  blob: {
    description: 'files signed in hardware into Sigstore bundles (public key, no transparency log), and verified',
    define: async () => (await import('./blob.js')).defineBlob,
  },
  doctor: {
    description: 'explain what this machine sees of YubiKeys: USB devices, PC/SC readers, PIV applications',
    define: async () => (await import('./doctor.js')).defineDoctor,
  },
  demo: {
    description:
      'run the whole story end to end on throw-away SoftHSM tokens and a virtual YubiKey: keys, a YubiKey enrolment, a cluster PKI, a TUF repository a developer touch-signs, a file and an image signed where verifiers look; nothing to set up, nothing left behind',
    define: async () => (await import('./demo/index.js')).defineDemo,
  },
};

const PIN_HELP = `
PINs are never taken from the command line. A device's PIN comes from the URI's pin-source=file:…,
else the device's own variable, else KEYWARD_PIN, else a prompt that names the device (SO PINs, new
PINs and PUKs: KEYWARD_SO_PIN, KEYWARD_NEW_PIN, KEYWARD_PUK; a backup ceremony's source token's SO
PIN also from its own KEYWARD_SO_PIN_TOKEN_<serial>). Each device's own variable is named
for its serial: KEYWARD_PIN_TOKEN_<serial> for a PKCS#11 token, KEYWARD_PIN_YUBIKEY_<serial> for a
YubiKey (letters and digits as they are, any other byte as _ and two hex digits); keyward token
list and yubikey list print it. It is never tried on another device. KEYWARD_PIN goes to the first
device a command needs a PIN for; a second one is asked about at the terminal and otherwise refused
(PIN_AMBIGUOUS) before any try is spent, so a command that uses two devices, such as trust sign
with a YubiKey and an online token, needs each device's own variable:
  KEYWARD_PIN_YUBIKEY_12345678=… KEYWARD_PIN_TOKEN_9f3c1a2b4d5e6f70=… keyward trust sign …
`;

const MODULE_HELP = `
PKCS#11 modules are code that Keyward loads into itself, where it hands them PINs. What you give
(--module, KEYWARD_PKCS11_MODULE, module-path or module-name in a URI on the command line) is your
choice for this run and is used as given. A key URI read from a file (a CA directory's ca.json,
which is public) may name only a module you allowed: one registered with p11-kit
(/etc/pkcs11/modules, /usr/share/p11-kit/modules), one listed in /etc/keyward/pkcs11-modules (one
absolute path a line; honoured only while root owns it and only root can write it), the module
given with --module or KEYWARD_PKCS11_MODULE, or the installed SoftHSM2. To allow a vendor's module
for CA directories:
  sudo mkdir -p /etc/keyward
  echo /usr/lib/vendor/libvendor-pkcs11.so | sudo tee -a /etc/keyward/pkcs11-modules
`;

/**
 * Keyward's version, from its own package.json (beside dist/ when built, beside cli/ from source).
 * Not npm_package_version: inside another project's npm script that is that project's version.
 */
const VERSION = ((): string => {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'keyward' && manifest.version) return manifest.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
})();

/** Programs built for --json: their usage errors are printed as JSON (by renderError), not by commander. */
const jsonPrograms = new WeakSet<Command>();

/**
 * The program with every noun named; a noun's commands are defined when commander dispatches to it.
 * `json` (--json anywhere on the command line) is known before parsing: `--version --json` and a
 * command line that does not parse must still answer in JSON.
 */
export function buildProgram(options: { json?: boolean } = {}): Command {
  const program = new Command('keyward');
  if (options.json) jsonPrograms.add(program);
  program
    .description('Keeps signing keys in hardware and puts them to work.')
    .option('-V, --version', 'output the version number')
    .on('option:version', () => {
      process.stdout.write(options.json ? `${JSON.stringify({ version: VERSION }, null, 2)}\n` : `${VERSION}\n`);
      // What commander's own .version() does, with exitOverride: end the parse here.
      throw new CommanderError(ExitCode.ok, 'commander.version', VERSION);
    })
    .option('--json', 'machine-readable output (and errors) on stdout')
    .option(
      '--module <path>',
      'PKCS#11 module when a URI names none, and one that key URIs read from files may name this run (default: KEYWARD_PKCS11_MODULE, then SoftHSM2)',
    )
    .option('--allow-final-try', "allow spending a PIN's last try without asking")
    .option('--no-input', 'never prompt; fail with a clear error instead')
    .option('--debug', 'print stacks with errors')
    .addHelpText(
      'after',
      examples(['keyward demo', 'keyward token init --label demo', "keyward key generate 'pkcs11:token=demo;object=signer' -a p256", 'keyward key list']) +
        PIN_HELP +
        MODULE_HELP +
        exitCodesHelp(),
    );
  addLazyCommands(program, NOUNS);
  // Commander's own help command would print a noun's help before the noun's commands are defined.
  program
    .helpCommand(false)
    .command('help')
    .description('display help for a command; `help errors` lists every error code with its exit code and meaning')
    .argument('[command...]', 'the command, e.g. key sign; or errors')
    .addHelpText('after', examples(['keyward help key sign', 'keyward help errors', 'keyward help errors --json']))
    .action(async (names: string[], _options: unknown, command: Command) => {
      if (names.length === 1 && names[0] === 'errors') {
        const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
        process.stdout.write(json ? `${JSON.stringify(errorCodeRows(), null, 2)}\n` : errorCodesHelp());
        return;
      }
      (await commandAt(program, names)).help();
    });
  program.hook('preSubcommand', (_program, noun) => defineNoun(noun));
  configure(program);
  return program;
}

/**
 * Defines a noun's commands from its module, once (and so any command named lazily): configured as
 * every command is, and its own lazily named commands defined when commander dispatches to them.
 */
export async function defineNoun(noun: Command): Promise<void> {
  if (!(await defineLazyCommand(noun))) return;
  configure(noun);
  if (noun.commands.length) noun.hook('preSubcommand', (_noun, command) => defineNoun(command));
}

/** The command that `names` lead to from the program (`key sign`), its noun defined. */
async function commandAt(program: Command, names: string[]): Promise<Command> {
  let command = program;
  for (const name of names) {
    const next = command.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (!next) unknownCommand(command, name);
    await defineNoun(next);
    command = next;
  }
  return command;
}

/** The program a command belongs to. */
function programOf(command: Command): Command {
  let root = command;
  while (root.parent) root = root.parent;
  return root;
}

/**
 * Every command: usage errors exit 2 rather than 1, with a pointer to --help (with --json, as a JSON
 * error on stdout instead, printed by renderError); unknown commands are refused.
 */
function configure(command: Command): void {
  command.exitOverride();
  if (jsonPrograms.has(programOf(command))) command.configureOutput({ outputError: () => undefined });
  else command.showHelpAfterError(USAGE_HINT);
  if (command.commands.length) refuseUnknownCommand(command);
  command.commands.forEach(configure);
}

const USAGE_HINT = '(add --help for usage)';

/** Commander's usage errors under the codes Keyward's own use (OPTION_INVALID, OPTION_MISSING …). */
const USAGE_CODES: Record<string, CodeOf<'usage'>> = {
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.missingArgument': 'ARGUMENT_MISSING',
  'commander.missingMandatoryOptionValue': 'OPTION_MISSING',
  'commander.optionMissingArgument': 'OPTION_VALUE_MISSING',
  'commander.invalidArgument': 'OPTION_INVALID',
  'commander.excessArguments': 'TOO_MANY_ARGUMENTS',
  'commander.conflictingOption': 'OPTIONS_CONFLICT',
};

/** A usage error commander raised, as the error every other failure is (for --json). */
function usageError(error: CommanderError): KeywardError {
  return keywardError(USAGE_CODES[error.code] ?? 'USAGE', error.message.replace(/^error: /, ''), { hint: USAGE_HINT.replace(/^\((.*)\)$/, '$1') });
}

function unknownCommand(command: Command, name: string): never {
  return command.error(`error: unknown command '${name}' (${command.name()} has: ${command.commands.map((c) => c.name()).join(', ')})`, {
    code: 'commander.unknownCommand',
  });
}

/**
 * Commander answers `keyward nosuch sign --help` with keyward's own help: it looks for --help before
 * it checks that `nosuch` is a command. Here an unknown command is a usage error, with --help or not.
 */
function refuseUnknownCommand(command: Command): void {
  command.on('beforeHelp', () => {
    const operands = command.args.filter((arg) => !arg.startsWith('-'));
    // `keyward key help nosuch`: commander's help command, in a noun.
    const name = operands[0] === 'help' ? operands[1] : operands[0];
    if (name !== undefined && !command.commands.some((c) => c.name() === name || c.aliases().includes(name))) unknownCommand(command, name);
  });
}

/** A reader that goes away (`keyward key --help | head -2`) ends the command quietly, not with a stack. */
function exitQuietlyWhenTheReaderGoes(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(ExitCode.ok);
  });
}

async function renderError(error: unknown, json: boolean, debug: boolean): Promise<number> {
  if (error instanceof CommanderError) {
    // Commander already printed the help or version it was asked for, and without --json the usage error too.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    if (json) process.stdout.write(`${JSON.stringify({ error: usageError(error).toJSON() }, null, 2)}\n`);
    return ExitCode.usage;
  }
  // Imported here, not at start-up: only a failing command needs them.
  const { toJson } = await import('./context.js');
  const { UriError } = await import('../src/keystore/uri/index.js');
  const { ProtocolFailure, ReportedFailure } = await import('./exit-status.js');
  if (error instanceof ReportedFailure) return error.exitCode;
  if (error instanceof ProtocolFailure) {
    // A command whose protocol fixes its exit codes (trust client): the error shown as itself, the exit code the protocol's.
    await renderError(error.error, json, debug);
    return error.exitCode;
  }
  if (error instanceof KeywardError) {
    if (json) {
      process.stdout.write(`${toJson({ error: error.toJSON() })}\n`);
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
  if (json) process.stdout.write(`${toJson({ error: { code: 'UNEXPECTED' satisfies ErrorCode, message } })}\n`);
  else process.stderr.write(`keyward: unexpected error: ${message}\nhint: this is likely a bug; run again with --debug and report what it prints\n`);
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return ExitCode.failure;
}

export async function main(argv: string[]): Promise<number> {
  exitQuietlyWhenTheReaderGoes(process.stdout);
  exitQuietlyWhenTheReaderGoes(process.stderr);
  // Options after "--" are operands, not options.
  const end = argv.indexOf('--');
  const given = (option: string) => (end === -1 ? argv : argv.slice(0, end)).includes(option);
  const json = given('--json');
  const program = buildProgram({ json });
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    const options = program.opts<{ json?: boolean; debug?: boolean }>();
    return renderError(error, options.json ?? json, options.debug ?? given('--debug'));
  }
}
