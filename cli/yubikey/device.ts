/** What the `yubikey` commands share: the keystore's YubiKey administration, held only while a command runs. */
import type { KeystoreOptions } from '../../src/keystore/keystore.js';
import type { YubiKeyAdministration } from '../../src/keystore/yubikey/administration.js';
import type { CliContext } from '../context.js';

/** Any YubiKey, when a command is given none. */
export const ANY = 'yubikey:';

/** Runs a device command and always releases the card. */
export async function withDevice<T>(ctx: CliContext, work: (b: YubiKeyAdministration) => Promise<T>, options: Partial<KeystoreOptions> = {}): Promise<T> {
  ctx.keystore(options);
  try {
    return await work(await ctx.keystore().administration('yubikey'));
  } finally {
    await ctx.keystore().close();
  }
}
