/**
 * The one rule for spending a credential's final try (a PIN, a PUK, an SO PIN), for every backend:
 * yes with --allow-final-try; otherwise the person at the keyboard decides, and a refusal stops the
 * command; with nobody to ask, no, and the driver then refuses with an error that says how to go on.
 */
import { CancelledError } from '../errors.js';
import type { BackendContext } from './backend.js';

/** Whether `credential` of `device` (`Token "ca"`, `YubiKey 123 (firmware 5.7.1)`) may spend its final try. */
export async function consentToFinalTry(ctx: Pick<BackendContext, 'allowFinalTry' | 'interaction'>, device: string, credential: string): Promise<boolean> {
  if (ctx.allowFinalTry) return true;
  const answer = await ctx.interaction.confirm(`${device} will block its ${credential} after one more wrong attempt. Use the last try now?`);
  if (answer === false) throw new CancelledError(`stopped: the ${credential}'s last try was kept`);
  return answer === true;
}
