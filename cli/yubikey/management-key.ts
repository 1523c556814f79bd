/** `keyward yubikey management-key set`: the PIV management key. */
import { Option, type Command } from 'commander';
import { parseManagementKeyHex } from '../../src/hsm/piv/management-key.js';
import { MANAGEMENT_KEY_ALGORITHMS, type ManagementKeyAlgorithm } from '../../src/hsm/piv/spec.js';
import { withSecrets } from '../../src/secret.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { newSecret } from '../secrets.js';
import { ANY, withDevice } from './device.js';

/** `keyward yubikey management-key …`. */
export function defineManagementKey(yubikey: Command): void {
  yubikey
    .command('management-key')
    .description('the PIV management key')
    .command('set')
    .description('set a new management key (authenticates with the current one)')
    .argument('[uri]', 'the YubiKey; management-key-source= gives the current key', ANY)
    .addOption(new Option('--algorithm <name>', "the new key's algorithm").choices(Object.keys(MANAGEMENT_KEY_ALGORITHMS)).default('aes192'))
    .option('--touch', 'require a touch for every use of the management key')
    .option('--new-key-source <file>', 'the new key in hex from a file (else KEYWARD_NEW_MANAGEMENT_KEY, else a prompt)')
    .addHelpText(
      'after',
      examples([
        'openssl rand -hex 24 > mgmt.key && chmod 600 mgmt.key',
        'keyward yubikey management-key set --new-key-source file:mgmt.key',
        "keyward yubikey management-key set 'yubikey:serial=12345678?management-key-source=file:old.key' --algorithm aes256 --new-key-source file:new.key --touch",
      ]),
    )
    .action(async (uri: string, options: { algorithm: ManagementKeyAlgorithm; touch?: boolean; newKeySource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri, { changing: ['management key'] });
        const length = MANAGEMENT_KEY_ALGORITHMS[options.algorithm].keyLength * 2;
        const secret = await newSecret(
          ctx,
          `${options.algorithm.toUpperCase()} management key (hex)`,
          { file: options.newKeySource, flag: '--new-key-source', envVar: 'KEYWARD_NEW_MANAGEMENT_KEY' },
          { min: length, max: length },
        );
        await withSecrets([secret], () =>
          session.setManagementKey(parseManagementKeyHex(secret.revealString()), options.algorithm, { requireTouch: options.touch }),
        );
        ctx.emit(
          { algorithm: options.algorithm, touch: Boolean(options.touch), device: session.device },
          () => `management key of ${session.device} set (${options.algorithm.toUpperCase()}${options.touch ? ', touch required' : ''})`,
        );
      });
    });
}
