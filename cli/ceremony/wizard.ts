/**
 * `keyward ceremony wizard` (alias `new`): a guided wizard that asks what a first-time operator needs (which
 * ceremony, which device, which algorithm, validity, who witnesses) and writes the script; it runs
 * nothing. Review the script, check it, rehearse it, then run it.
 */
import type { Command } from 'commander';
import { keywardError } from '../../src/errors.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { terminalAvailable } from '../terminal.js';

export function defineWizard(ceremony: Command): void {
  ceremony
    .command('wizard')
    .alias('new')
    .description('a guided wizard that writes a ceremony script (root, cluster intermediate, key backup or restore) to review, check, rehearse and run')
    .argument('<script>', 'where to write the script (never over an existing file)')
    .addHelpText('after', examples(['keyward ceremony wizard root.yaml', 'keyward ceremony run root.yaml --out rehearsal --dry-run']))
    .action(async (file: string, _options: unknown, command: Command) => {
      const ctx = await CliContext.of(command);
      if (!terminalAvailable() || ctx.options.input === false) {
        throw keywardError('SECRET_REQUIRED', 'the wizard asks its questions at a terminal, and there is none', {
          hint: 'run it at a terminal, or write the script by hand (see docs/ceremonies/*.yaml)',
        });
      }
      const { input, select, confirm } = await import('@inquirer/prompts');
      const { KEY_ALGORITHMS } = await import('../../src/crypto/algorithms.js');
      const { scriptText } = await import('../../src/ceremony/wizard.js');
      const { writeNewFile } = await import('../../src/atomic-file.js');
      const output = { output: process.stderr };
      const choose = <T extends string>(message: string, choices: Record<T, string>) =>
        select({ message, choices: (Object.entries(choices) as Array<[T, string]>).map(([value, name]) => ({ name, value })) }, output);
      const kind = await choose('Which ceremony?', {
        root: 'root: make the offline root key and its certificate',
        intermediate: 'intermediate: the root signs a cluster intermediate whose key is made here',
        backup: 'backup: copy the root key (made with backup: wrap) to a second token, never in the clear',
        restore: 'restore: copy the root key from its backup token onto a new token, and point the CA at it',
      });
      const copying = kind === 'backup' || kind === 'restore';
      const deviceKind = copying
        ? 'pkcs11'
        : await choose('Where do the keys live?', { pkcs11: 'a PKCS#11 token (an HSM, SoftHSM)', yubikey: 'a YubiKey (PIV)' });
      const source = kind === 'restore' ? 'The backup token' : 'The root token';
      const token =
        deviceKind === 'pkcs11'
          ? await input({ message: `${copying ? source : 'Token'} label:`, default: kind === 'restore' ? 'root-backup' : 'offline-root' }, output)
          : undefined;
      const serial = await input(
        { message: deviceKind === 'pkcs11' ? `${copying ? source : 'Token'} serial (keyward token list shows it; empty: don't bind):` : 'YubiKey serial:' },
        output,
      );
      const algorithm = copying
        ? undefined
        : await select({ message: 'Key algorithm:', choices: KEY_ALGORITHMS.map((a) => ({ name: a, value: a })), default: 'p384' }, output);
      const rootLabel = await input(
        { message: deviceKind === 'pkcs11' ? "The root key's label:" : "The root key's PIV slot:", default: deviceKind === 'pkcs11' ? 'root' : '9c' },
        output,
      );
      const target = copying
        ? {
            token: await input(
              {
                message: `${kind === 'restore' ? 'The new token' : 'The backup token'} label:`,
                default: kind === 'restore' ? 'offline-root-2' : 'root-backup',
              },
              output,
            ),
            serial: (await input({ message: "Its serial (empty: don't bind):" }, output)).trim() || undefined,
          }
        : undefined;
      // Decided when the key is made: a key made non-extractable can never be backed up.
      const backup =
        deviceKind === 'pkcs11' && !copying && algorithm !== 'ed25519'
          ? await confirm(
              {
                message: `Make the ${kind} key copyable to a second token by a backup ceremony (backup: wrap; it then leaves its token only wrapped by a key the token's SO trusts)?`,
                default: false,
              },
              output,
            )
          : undefined;
      const answers = copying
        ? {}
        : kind === 'root'
          ? {
              subject: await input({ message: "The root's subject:", default: 'CN=swarm-ca' }, output),
              years: Number(await input({ message: 'Valid for how many years?', default: '20', validate: (v) => /^\d+$/.test(v) || 'a whole number' }, output)),
            }
          : {
              clusterId: await input({ message: 'Cluster ID (docker info -f {{.Swarm.Cluster.ID}}):' }, output),
              intermediateLabel: await input(
                {
                  message: deviceKind === 'pkcs11' ? "The intermediate key's label:" : "The intermediate key's PIV slot:",
                  default: deviceKind === 'pkcs11' ? 'cluster-ca' : '9d',
                },
                output,
              ),
              days: Number(await input({ message: 'Valid for how many days?', default: '1825', validate: (v) => /^\d+$/.test(v) || 'a whole number' }, output)),
            };
      const witnesses = (
        await input({ message: 'Witnesses (names, separated by commas):', validate: (v) => v.trim() !== '' || 'at least one witness' }, output)
      )
        .split(',')
        .map((w) => w.trim())
        .filter(Boolean);
      const text = scriptText({
        kind,
        deviceKind,
        token,
        serial: serial.trim() || undefined,
        ...(algorithm ? { algorithm } : {}),
        rootLabel,
        ...(backup ? { backup } : {}),
        ...(target ? { target } : {}),
        witnesses,
        ...answers,
      });
      process.stderr.write(`\n${text}\n`);
      if (!(await confirm({ message: `Write this script to ${file}?`, default: true }, output))) throw keywardError('CANCELLED', 'nothing was written');
      writeNewFile(file, text);
      ctx.say(`wrote ${file}`);
      if (await confirm({ message: 'Rehearse it now, on stand-in devices (nothing is kept)?', default: true }, output)) {
        const { readScript } = await import('../../src/ceremony/script.js');
        const { rehearse, terminalWitnessing } = await import('./room.js');
        await rehearse(ctx, readScript(file), terminalWitnessing(ctx, (await import('ora')).default));
      }
      ctx.say(`next: review ${file} with the witnesses; on the day: keyward ceremony check ${file} --out <dir>, then keyward ceremony run ${file} --out <dir>`);
    });
}
