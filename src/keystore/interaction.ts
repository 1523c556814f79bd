/**
 * How the keystore talks to the person at the keyboard, when there is one: PIN prompts,
 * confirmations (such as spending a PIN's last try), warnings and transient notices ("Touch your
 * YubiKey…"). The CLI supplies a terminal implementation; libraries get `nonInteractive`.
 */
import type { Secret } from '../secret.js';

export interface Notice {
  /**
   * Ends the notice: the card answered. With `outcome` ("touched"), what came of it is said where the
   * notice was; without (the card gave up, an error follows), the notice just goes.
   */
  clear(outcome?: string): void;
}

export interface Interaction {
  /** Asks for a secret without echoing it. Undefined when nobody can be asked. */
  askSecret(prompt: string): Promise<Secret | undefined>;
  /** Asks a yes/no question. Undefined when nobody can be asked. */
  confirm(question: string): Promise<boolean | undefined>;
  warn(message: string): void;
  /** Shows a notice until cleared. */
  notice(message: string): Notice;
}

/** For scripts and libraries: never asks, warns on stderr. */
export const nonInteractive: Interaction = {
  askSecret: async () => undefined,
  confirm: async () => undefined,
  warn: (message) => process.stderr.write(`keyward: warning: ${message}\n`),
  notice: (message) => {
    process.stderr.write(`${message}\n`);
    return { clear: (outcome) => void (outcome && process.stderr.write(`…${outcome}\n`)) };
  },
};
