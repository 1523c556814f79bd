/**
 * The terminal side of the CLI: prompts (on stderr, so stdout stays clean for data and --json),
 * spinners for long work, and notices such as "Touch your YubiKey…". The prompt and spinner
 * libraries load when a prompt or spinner is shown: most runs show neither.
 */
import { CancelledError, keywardError } from '../src/errors.js';
import { nonInteractive, type Interaction, type Notice } from '../src/keystore/interaction.js';
import { Secret } from '../src/secret.js';

export function terminalAvailable(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

function isPromptAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}

async function prompting<T>(ask: () => Promise<T>): Promise<T> {
  try {
    return await ask();
  } catch (error) {
    if (isPromptAbort(error)) throw new CancelledError('cancelled at the prompt');
    throw error;
  }
}

/** Prompts at the terminal when there is one (and --no-input was not given); otherwise never asks. */
export function terminalInteraction(options: { allowPrompts: boolean }): Interaction {
  const interactive = options.allowPrompts && terminalAvailable();
  const context = { output: process.stderr };
  return {
    askSecret: async (prompt) => {
      if (!interactive) return undefined;
      // Nothing is echoed, not even asterisks: the length of a PIN is a secret too.
      const { password } = await import('@inquirer/prompts');
      const value = await prompting(() => password({ message: prompt }, context));
      return Secret.fromString(value);
    },
    confirm: async (question) => {
      if (!interactive) return undefined;
      const { confirm } = await import('@inquirer/prompts');
      return prompting(() => confirm({ message: question, default: false }, context));
    },
    warn: nonInteractive.warn,
    notice: (message): Notice => {
      if (!process.stderr.isTTY) return nonInteractive.notice(message);
      process.stderr.write(`${message}`);
      // The line is rewritten: with what came of it ("Touch your YubiKey… touched"), or emptied for the error that follows.
      return { clear: (outcome) => process.stderr.write(outcome ? `\r\x1b[K${message} ${outcome}\n` : '\r\x1b[K') };
    },
  };
}

/** Asks for a new secret twice; refuses a mismatch or one outside the length bounds. */
export async function askNewSecret(interaction: Interaction, what: string, bounds: { min: number; max: number }): Promise<Secret | undefined> {
  const first = await interaction.askSecret(`New ${what} (${bounds.min}–${bounds.max} characters):`);
  if (!first) return undefined;
  if (first.byteLength < bounds.min || first.byteLength > bounds.max) {
    first.dispose();
    throw keywardError('PIN_LENGTH', `the ${what} must have ${bounds.min} to ${bounds.max} characters; nothing was changed`);
  }
  const again = await interaction.askSecret(`Repeat the new ${what}:`);
  if (!again || !again.equals(first)) {
    first.dispose();
    again?.dispose();
    throw keywardError('PIN_MISMATCH', `the two ${what}s differ; nothing was changed`);
  }
  again.dispose();
  return first;
}

/** Runs long work under a spinner on stderr (only on a terminal, and never with --json). */
export async function withSpinner<T>(text: string, enabled: boolean, work: () => Promise<T>): Promise<T> {
  if (!enabled || !process.stderr.isTTY) return work();
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: process.stderr }).start();
  try {
    const result = await work();
    spinner.succeed();
    return result;
  } catch (error) {
    spinner.fail();
    throw error;
  }
}
