/** `keyward yubikey reset`: the PIV application back to factory, every key destroyed. */
import type { Command } from 'commander';
import { confirmDestruction, yesOption } from '../confirm.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { ANY, withDevice } from './device.js';

/** `keyward yubikey reset`. */
export function defineReset(yubikey: Command): void {
  yubikey
    .command('reset')
    .description('reset the PIV application: every PIV key and certificate is destroyed, PIN/PUK/management key back to factory')
    .argument('[uri]', 'the YubiKey', ANY)
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples(['keyward yubikey reset yubikey:serial=12345678']) +
        '\nThe card allows a reset only with PIN and PUK blocked; Keyward blocks them for you. There is no undo.\n',
    )
    .action(async (uri: string, options: { yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        // Everything goes back to factory: the message afterwards says to change it all.
        const session = await b.session(uri, { changing: ['PIN', 'PUK', 'management key'] });
        await confirmDestruction(ctx, options.yes, {
          question: `Reset the PIV application of ${session.device}? Every PIV key and certificate on it is destroyed.`,
          action: 'reset the PIV application',
        });
        await session.resetToFactory();
        ctx.emit({ reset: true, device: session.device }, () => `${session.device} reset: PIN 123456, PUK 12345678, factory management key. Change them now.`);
      });
    });
}
