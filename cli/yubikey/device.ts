/** What the `yubikey` commands share: the built-in YubiKey backend, held only while a command runs. */
import type { YubiKeyBackend } from '../../src/keystore/backends/yubikey.js';
import type { KeystoreOptions } from '../../src/keystore/keystore.js';
import type { CliContext } from '../context.js';

/** Any YubiKey, when a command is given none. */
export const ANY = 'yubikey:';

async function backend(ctx: CliContext): Promise<YubiKeyBackend> {
  const { YubiKeyBackend } = await import('../../src/keystore/backends/yubikey.js');
  const b = await ctx.keystore().backend(ANY);
  if (!(b instanceof YubiKeyBackend)) throw new Error('the yubikey backend is not the built-in one');
  return b;
}

/** Runs a device command and always releases the card. */
export async function withDevice<T>(ctx: CliContext, work: (b: YubiKeyBackend) => Promise<T>, options: Partial<KeystoreOptions> = {}): Promise<T> {
  ctx.keystore(options);
  try {
    return await work(await backend(ctx));
  } finally {
    await ctx.keystore().close();
  }
}
