/**
 * What every command gets: the global options, the environment (read here and nowhere else in the
 * CLI, then passed down), a keystore built from them, and output helpers that print either for
 * people or, with --json, for scripts.
 */
import type { Command } from 'commander';
import type { Keystore, KeystoreOptions } from '../src/keystore/keystore.js';
import type { Interaction } from '../src/keystore/interaction.js';
import { terminalInteraction, withSpinner } from './terminal.js';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  module?: string;
  allowFinalTry?: boolean;
  input?: boolean;
}

export class CliContext {
  readonly options: GlobalOptions;
  /** KEYWARD_PIN, KEYWARD_CA_DIR and the rest: what commands read of the environment comes from here. */
  readonly env: NodeJS.ProcessEnv;
  readonly interaction: Interaction;
  readonly #Keystore: typeof Keystore;
  #keystore: Keystore | undefined;

  private constructor(options: GlobalOptions, env: NodeJS.ProcessEnv, keystoreClass: typeof Keystore) {
    this.options = options;
    this.env = env;
    this.interaction = terminalInteraction({ allowPrompts: options.input !== false });
    this.#Keystore = keystoreClass;
  }

  /** The context of a command that runs: loads the keystore, which building the command tree does not. */
  static async of(command: Command): Promise<CliContext> {
    const { Keystore } = await import('../src/keystore/keystore.js');
    return new CliContext(command.optsWithGlobals<GlobalOptions>(), process.env, Keystore);
  }

  get json(): boolean {
    return this.options.json === true;
  }

  /** The command's keystore, made on first use (`extra` options apply then). */
  keystore(extra: Partial<KeystoreOptions> = {}): Keystore {
    this.#keystore ??= new this.#Keystore({
      interaction: this.interaction,
      env: this.env,
      pkcs11Module: this.options.module,
      allowFinalTry: this.options.allowFinalTry,
      ...extra,
    });
    return this.#keystore;
  }

  /** Prints `value` as JSON with --json, else the human rendering. */
  emit(value: unknown, human: () => string): void {
    process.stdout.write(this.json ? `${toJson(value)}\n` : ensureNewline(human()));
  }

  /** A line of narration for people; silent with --json. */
  say(text: string): void {
    if (!this.json) process.stderr.write(ensureNewline(text));
  }

  progress<T>(text: string, work: () => Promise<T>): Promise<T> {
    return withSpinner(text, !this.json, work);
  }
}

/** JSON for scripts: bytes (a reader's ATR, say) as hex, never Node's {"type":"Buffer","data":[…]}. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, serialised: unknown) {
      // `serialised` has been through Buffer's toJSON already; the holder still has the bytes.
      const original = this[key];
      return original instanceof Uint8Array ? Buffer.from(original).toString('hex') : serialised;
    },
    2,
  );
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') || text === '' ? text : `${text}\n`;
}

/** Renders rows as aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}
