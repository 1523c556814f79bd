/**
 * Every command that destroys what cannot be got back (a key, a card's PIV application, its PIN and
 * PUK, a virtual card's state) asks first, through this one rule: --yes answers for the person; else
 * a terminal asks; with no one to ask (no terminal, --no-input) the command is refused, never run.
 */
import { Option } from 'commander';
import { CancelledError, keywardError } from '../src/errors.js';
import type { CliContext } from './context.js';

/** `-y, --yes`, for every command that confirms through `confirmDestruction`. */
export const yesOption = () => new Option('-y, --yes', 'do not ask for confirmation');

export interface Destruction {
  /** What is asked at the terminal, naming what is destroyed: "Destroy key "signer" on …?" */
  question: string;
  /** What is refused without confirmation: "delete a key". */
  action: string;
  /** What a "no" at the prompt leaves (by default "nothing was changed"): "nothing was deleted". */
  declined?: string;
}

/** Returns when the person (or --yes) agreed; throws CONFIRMATION_REQUIRED or CANCELLED otherwise. */
export async function confirmDestruction(ctx: CliContext, yes: boolean | undefined, destruction: Destruction): Promise<void> {
  if (yes) return;
  const answer = await ctx.interaction.confirm(destruction.question);
  if (answer === undefined) {
    throw keywardError('CONFIRMATION_REQUIRED', `refusing to ${destruction.action} without confirmation`, { hint: 'pass --yes when no terminal can ask' });
  }
  if (!answer) throw new CancelledError(destruction.declined ?? 'nothing was changed');
}
