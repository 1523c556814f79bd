/** `keyward token …`: PKCS#11 tokens: list, initialise (SoftHSM), change and unblock PINs. */
import type { Command } from 'commander';
import { keywardError } from '../src/errors.js';
import type { PinCounterState } from '../src/hsm/pkcs11/token.js';
import type { TokenSummary } from '../src/keystore/pkcs11/administration.js';
import { CliContext } from './context.js';
import { examples } from './help.js';
import { withSecrets } from '../src/secret.js';
import { existingSecret, newSecret } from './secrets.js';

/** What SoftHSM accepts; real tokens report their own bounds and refuse others clearly. */
const PIN_BOUNDS = { min: 4, max: 64 };

/** A PIN's state as a listing shows it (the JSON keeps the flags' names); nothing when there is nothing to say. */
function pinStateNote(state: PinCounterState): string | undefined {
  switch (state) {
    case 'locked':
      return 'LOCKED';
    case 'final-try':
      return 'one try left before it locks';
    case 'count-low':
      // CKF_USER_PIN_COUNT_LOW means only this (SoftHSM sets it after any wrong PIN): no count is implied.
      return 'a wrong PIN was given since the last successful login';
    case 'ok':
      return undefined;
  }
}

function describeToken(t: TokenSummary): string {
  const note = pinStateNote(t.userPin);
  const pin = note ? `  user PIN: ${note}` : '';
  return (
    `${t.label}  ${t.model}  serial ${t.serial}  slot ${t.slotId}${t.initialized ? '' : '  (not initialised)'}${pin}\n  ${t.uri}` +
    (t.initialized && t.pinVariable ? `\n  PIN variable: ${t.pinVariable}` : '') +
    (t.mechanisms ? `\n  mechanisms: ${t.mechanisms.join(' ')}` : '')
  );
}

/** `keyward token`'s commands. */
export function defineToken(token: Command): void {
  token
    .command('list')
    .description('list the tokens a PKCS#11 module offers')
    .argument('[uri]', 'filter, e.g. pkcs11:model=SoftHSM%20v2', 'pkcs11:')
    .option('--all', 'include slots whose token is not initialised')
    .option('--mechanisms', "list each token's mechanisms")
    .addHelpText('after', examples(['keyward token list', 'keyward token list --module /usr/lib/x86_64-linux-gnu/libykcs11.so', 'keyward token list --json']))
    .action(async (uri: string, options: { all?: boolean; mechanisms?: boolean }, command: Command) => {
      const ctx = await CliContext.of(command);
      const tokens = (await ctx.keystore().administration('pkcs11')).tokens(uri, { mechanisms: options.mechanisms, includeUninitialized: options.all });
      ctx.emit(tokens, () =>
        tokens.length ? tokens.map(describeToken).join('\n') : 'no initialised tokens (keyward token init --label NAME makes one on SoftHSM)',
      );
    });

  token
    .command('init')
    .description("initialise a new token in a free slot (SoftHSM; hardware HSMs use their vendor's tools)")
    .requiredOption('-l, --label <label>', "the new token's label (1–32 bytes, unique)")
    .argument('[uri]', 'the module, e.g. pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so', 'pkcs11:')
    .option('--so-pin-source <file>', 'read the new SO PIN from this file (else KEYWARD_SO_PIN, else a prompt)')
    .option('--pin-source <file>', 'read the new user PIN from this file (else KEYWARD_PIN, else a prompt)')
    .addHelpText(
      'after',
      examples([
        'keyward token init --label ca',
        'KEYWARD_SO_PIN=… KEYWARD_PIN=… keyward token init --label ci --json',
        'SOFTHSM2_CONF=$PWD/softhsm2.conf keyward token init --label test --so-pin-source file:so.pin --pin-source file:user.pin',
      ]) + '\nAn initialised token is never re-initialised: that would destroy its keys.\n',
    )
    .action(async (uri: string, options: { label: string; soPinSource?: string; pinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const soPin = await newSecret(ctx, 'SO PIN', { file: options.soPinSource, flag: '--so-pin-source', envVar: 'KEYWARD_SO_PIN' }, PIN_BOUNDS);
      const userPin = await newSecret(ctx, 'user PIN', { file: options.pinSource, flag: '--pin-source', envVar: 'KEYWARD_PIN' }, PIN_BOUNDS);
      await withSecrets([soPin, userPin], async () => {
        if (soPin.equals(userPin)) {
          throw keywardError('PIN_REUSED', 'the SO PIN and the user PIN must differ', { hint: 'the SO PIN is what recovers a locked user PIN' });
        }
        const administration = await ctx.keystore().administration('pkcs11');
        const summary = administration.initToken(uri, { label: options.label, soPin, userPin });
        ctx.emit(summary, () => `initialised token "${summary.label}"\n  ${summary.uri}`);
        const risk = summary.objectStore === 'file' ? administration.fileStoreRisk(uri, [summary]) : undefined;
        if (risk) ctx.interaction.warn(`${risk.message}\n  ${risk.hint}`);
      });
    });

  token
    .command('change-pin')
    .description('change the user PIN (needs the current one)')
    .argument('<uri>', 'the token; its pin-source= gives the current PIN')
    .option('--new-pin-source <file>', 'read the new PIN from this file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText(
      'after',
      examples([
        "keyward token change-pin 'pkcs11:token=demo'",
        "keyward token change-pin 'pkcs11:token=demo?pin-source=file:old.pin' --new-pin-source file:new.pin",
      ]),
    )
    .action(async (uri: string, options: { newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const backend = await ctx.keystore().administration('pkcs11');
      const newPin = await newSecret(ctx, 'user PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIN_BOUNDS);
      const summary = await withSecrets([newPin], () => backend.changePin(uri, newPin));
      ctx.emit({ changed: true, token: summary.uri }, () => `user PIN of token "${summary.label}" changed`);
    });

  token
    .command('unblock')
    .description('set a new user PIN with the SO PIN; this also unblocks a locked PIN')
    .argument('<uri>', 'the token')
    .option('--so-pin-source <file>', 'read the SO PIN from this file (else KEYWARD_SO_PIN, else a prompt)')
    .option('--new-pin-source <file>', 'read the new user PIN from this file (else KEYWARD_NEW_PIN, else a prompt)')
    .addHelpText('after', examples(["keyward token unblock 'pkcs11:token=demo'"]))
    .action(async (uri: string, options: { soPinSource?: string; newPinSource?: string }, command: Command) => {
      const ctx = await CliContext.of(command);
      const backend = await ctx.keystore().administration('pkcs11');
      const soPin = await existingSecret(ctx, 'SO PIN', { file: options.soPinSource, envVar: 'KEYWARD_SO_PIN' });
      const newPin = await newSecret(ctx, 'user PIN', { file: options.newPinSource, flag: '--new-pin-source', envVar: 'KEYWARD_NEW_PIN' }, PIN_BOUNDS);
      const summary = await withSecrets([soPin, newPin], () => backend.unblock(uri, soPin, newPin));
      ctx.emit({ unblocked: true, token: summary.uri }, () => `new user PIN set on token "${summary.label}"; it is unblocked`);
    });
}
