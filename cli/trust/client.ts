/**
 * `keyward trust client …`: the TUF client, speaking the client-under-test protocol of the TUF
 * conformance suite (CLIENT-CLI.md): `init`, `refresh`, `download`, exit code 0 or 1.
 */
import { Option, type Command } from 'commander';
import { ExitCode, KeywardError, keywardError } from '../../src/errors.js';
import { ProtocolFailure } from '../exit-status.js';
import { examples } from '../help.js';

interface ClientOptions {
  metadataDir: string;
  metadataUrl?: string;
  targetName?: string[];
  targetBaseUrl?: string;
  targetDir?: string;
  time?: string;
  json?: boolean;
}

/** The conformance protocol knows two outcomes: any failure exits 1, with Keyward's message, hint and code. */
function asFailure(error: unknown): unknown {
  if (!(error instanceof KeywardError) || error.exitCode === ExitCode.failure) return error;
  return new ProtocolFailure(error, ExitCode.failure);
}

async function run(command: Command, work: (options: ClientOptions) => Promise<void>): Promise<void> {
  try {
    await work(command.optsWithGlobals<ClientOptions>());
  } catch (error) {
    throw asFailure(error);
  }
}

function need(value: string | undefined, flag: string): string {
  if (!value) throw keywardError('OPTION_MISSING', `${flag} is required for this command`, { hint: `add ${flag}` });
  return value;
}

async function updater(options: ClientOptions) {
  const { Updater } = await import('../../src/trust/client/updater.js');
  let time: Date | undefined;
  if (options.time) {
    time = new Date(options.time.replace(' ', 'T'));
    if (Number.isNaN(time.getTime()))
      throw keywardError('TIME_INVALID', `--time "${options.time}" is not a date and time`, { hint: 'use ISO 8601, e.g. 2025-02-09T09:17:23Z' });
  }
  return new Updater({
    metadataDir: options.metadataDir,
    metadataUrl: need(options.metadataUrl, '--metadata-url'),
    targetBaseUrl: options.targetBaseUrl,
    time,
  });
}

function say(options: ClientOptions, value: unknown, text: string): void {
  process.stdout.write(
    options.json ? `${JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item), 2)}\n` : `${text}\n`,
  );
}

/** `keyward trust client`'s options and commands (the noun is named in index.ts). */
export function defineClient(client: Command): void {
  client
    .requiredOption('--metadata-dir <dir>', 'where the client keeps the metadata it trusts (root.json, timestamp.json, …)')
    .option('--metadata-url <url>', "the repository's metadata base URL, e.g. http://127.0.0.1:8080/metadata")
    .option('--target-name <path>', 'a target to download (repeat for several, processed in order)', (value: string, previous: string[] = []) => [
      ...previous,
      value,
    ])
    .option('--target-base-url <url>', "the repository's targets base URL")
    .option('--target-dir <dir>', 'where verified targets are written')
    .addOption(new Option('--time <iso-time>', 'judge expiry at this moment instead of now (replaying an incident, testing a fixture)'))
    .addHelpText(
      'after',
      examples([
        'keyward trust client --metadata-dir ~/.keyward/tuf init root.json',
        'keyward trust client --metadata-dir ~/.keyward/tuf --metadata-url https://tuf.example/metadata refresh',
        'keyward trust client --metadata-dir ~/.keyward/tuf --metadata-url https://tuf.example/metadata \\\n    --target-name app/v1.2.tar.gz --target-base-url https://tuf.example/targets --target-dir ./downloads download',
      ]),
    );

  client
    .command('init <root>')
    .description('trust a root.json received out of band (nothing is fetched)')
    .addHelpText('after', examples(['keyward trust client --metadata-dir ~/.keyward/tuf init root.json']))
    .action(async (root: string, _options: unknown, command: Command) =>
      run(command, async (options) => {
        const { readInput } = await import('../io.js');
        const { initClient } = await import('../../src/trust/client/updater.js');
        initClient(options.metadataDir, readInput(root, '<root>'));
        say(options, { ok: true, metadataDir: options.metadataDir }, `trusting ${root}; metadata in ${options.metadataDir}`);
      }),
    );

  client
    .command('refresh')
    .description('update root, timestamp, snapshot and targets, verifying each (spec §5.3–§5.6)')
    .addHelpText('after', examples(['keyward trust client --metadata-dir ~/.keyward/tuf --metadata-url https://tuf.example/metadata refresh']))
    .action(async (_options: unknown, command: Command) =>
      run(command, async (options) => {
        const report = await (await updater(options)).refresh();
        say(options, report, `root v${report.root}, timestamp v${report.timestamp}, snapshot v${report.snapshot}, targets v${report.targets}: verified`);
      }),
    );

  client
    .command('download')
    .description('refresh, find each --target-name through the delegations, download it and check its length and hashes (spec §5.7)')
    .addHelpText(
      'after',
      examples([
        'keyward trust client --metadata-dir ~/.keyward/tuf --metadata-url https://tuf.example/metadata \\\n    --target-name app/v1.2.tar.gz --target-base-url https://tuf.example/targets --target-dir ./downloads download',
      ]),
    )
    .action(async (_options: unknown, command: Command) =>
      run(command, async (options) => {
        const names = options.targetName ?? [];
        if (names.length === 0) need(undefined, '--target-name');
        const targetDir = need(options.targetDir, '--target-dir');
        const client = await updater(options);
        const results = [];
        for (const name of names) {
          const { file, target, cached } = await client.downloadTarget(name, targetDir);
          results.push({ target: name, role: target.role, file, length: target.info.length, hashes: target.info.hashes, cached });
        }
        say(
          options,
          results,
          results.map((r) => `${r.target}: ${r.cached ? 'already verified in' : 'verified, written to'} ${r.file} (signed by ${r.role})`).join('\n'),
        );
      }),
    );
}
