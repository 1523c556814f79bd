/** `keyward yubikey pin …` and `puk change`: the PIV PIN and PUK. */
import type { Command } from 'commander';
import { PIN_LENGTH, PIN_MIN_LENGTH } from '../../src/hsm/piv/spec.js';
import { withSecrets } from '../../src/secret.js';
import { confirmDestruction, yesOption } from '../confirm.js';
import { CliContext } from '../context.js';
import { examples } from '../help.js';
import { wholeNumber } from '../options.js';
import { existingSecret, newSecret } from '../secrets.js';
import { ANY, withDevice } from './device.js';

/** What the card accepts as a PIN or PUK (SP 800-73-4: 6 to 8 bytes). */
const PIV_PIN_BOUNDS = { min: PIN_MIN_LENGTH, max: PIN_LENGTH };

/** `keyward yubikey pin …`. */
export function definePin(yubikey: Command): void {
  const pin = yubikey.command('pin').description('the PIV PIN: change, unblock with the PUK, set retries');
  pin
    .command('change')
    .description('change the PIN (needs the current one)')
    .argument('[uri]', 'the YubiKey; pin-source= gives the current PIN', ANY)
    .option('--new-pin-source <file>', 'the new PIN from a file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText(
      'after',
      examples(['keyward yubikey pin change', "keyward yubikey pin change 'yubikey:serial=12345678?pin-source=file:old.pin' --new-pin-source file:new.pin"]),
    )
    .action(async (uri: string, options: { newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri, { changing: ['PIN'] });
        const current = await b.pin(uri);
        const next = await newSecret(ctx, 'PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIV_PIN_BOUNDS);
        await withSecrets([current, next], () => session.changePin(current, next));
        ctx.emit({ changed: 'PIN', device: session.device }, () => `PIN of ${session.device} changed`);
      });
    });
  pin
    .command('unblock')
    .description('set a new PIN with the PUK (also unblocks a blocked PIN)')
    .argument('[uri]', 'the YubiKey', ANY)
    .option('--puk-source <file>', 'the PUK from a file (else KEYWARD_PUK, else a prompt)')
    .option('--new-pin-source <file>', 'the new PIN from a file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText('after', examples(['keyward yubikey pin unblock', 'KEYWARD_PUK=… KEYWARD_NEW_PIN=… keyward yubikey pin unblock yubikey:serial=12345678']))
    .action(async (uri: string, options: { pukSource?: string; newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri, { changing: ['PIN'] });
        const puk = await existingSecret(ctx, `PUK of ${session.device}`, { file: options.pukSource, envVar: 'KEYWARD_PUK' });
        const next = await newSecret(ctx, 'PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIV_PIN_BOUNDS);
        await withSecrets([puk, next], () => session.unblockPin(puk, next));
        ctx.emit({ unblocked: true, device: session.device }, () => `new PIN set on ${session.device}`);
      });
    });
  pin
    .command('retries')
    .description('set how many tries the PIN and PUK get; both are reset to their factory values')
    .argument('[uri]', 'the YubiKey', ANY)
    .requiredOption('--pin-tries <n>', 'PIN tries (1–255)', (v) => wholeNumber(v, '--pin-tries'))
    .requiredOption('--puk-tries <n>', 'PUK tries (1–255)', (v) => wholeNumber(v, '--puk-tries'))
    .addOption(yesOption())
    .addHelpText(
      'after',
      examples(['keyward yubikey pin retries --pin-tries 5 --puk-tries 3']) + '\nThe card resets PIN and PUK to 123456 / 12345678: change them right after.\n',
    )
    .action(async (uri: string, options: { pinTries: number; pukTries: number; yes?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri, { changing: ['PIN', 'PUK'] }); // both go back to factory: warned about after
        await confirmDestruction(ctx, options.yes, {
          question: `Set ${options.pinTries} PIN and ${options.pukTries} PUK tries on ${session.device}? PIN and PUK go back to their factory values.`,
          action: 'reset the PIN and PUK',
        });
        await session.setPinRetries(options.pinTries, options.pukTries);
        ctx.interaction.warn(`the PIN and PUK of ${session.device} are now the factory defaults: change them (keyward yubikey pin change, puk change)`);
        ctx.emit(
          { pinTries: options.pinTries, pukTries: options.pukTries, device: session.device },
          () => `PIN tries ${options.pinTries}, PUK tries ${options.pukTries}`,
        );
      });
    });
}

/** `keyward yubikey puk change`. */
export function definePuk(yubikey: Command): void {
  yubikey
    .command('puk')
    .description('the PUK')
    .command('change')
    .description('change the PUK (needs the current one)')
    .argument('[uri]', 'the YubiKey', ANY)
    .option('--puk-source <file>', 'the current PUK from a file (else KEYWARD_PUK, else a prompt)')
    .option('--new-puk-source <file>', 'the new PUK from a file (else KEYWARD_NEW_PUK, else a prompt)')
    .addHelpText('after', examples(['keyward yubikey puk change']))
    .action(async (uri: string, options: { pukSource?: string; newPukSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      await withDevice(ctx, async (b) => {
        const session = await b.session(uri, { changing: ['PUK'] });
        const current = await existingSecret(ctx, `current PUK of ${session.device}`, { file: options.pukSource, envVar: 'KEYWARD_PUK' });
        const next = await newSecret(ctx, 'PUK', { file: options.newPukSource, flag: '--new-puk-source', envVar: 'KEYWARD_NEW_PUK' }, PIV_PIN_BOUNDS);
        await withSecrets([current, next], () => session.changePuk(current, next));
        ctx.emit({ changed: 'PUK', device: session.device }, () => `PUK of ${session.device} changed`);
      });
    });
}
