import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A PIN, PUK, management key or passphrase. It refuses to be printed, logged or serialised:
 * `String(secret)`, `JSON.stringify`, `console.log` and template literals all give "[redacted]".
 * The only way to the value is an explicit `reveal*()` call at the point of use.
 */
export class Secret {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromString(value: string): Secret {
    return new Secret(Buffer.from(value, 'utf8'));
  }

  /** Takes ownership of `bytes` (they are zeroed by `dispose`). */
  static fromBytes(bytes: Uint8Array): Secret {
    return new Secret(Buffer.from(bytes));
  }

  get byteLength(): number {
    return this.#bytes.length;
  }

  revealString(): string {
    return this.#bytes.toString('utf8');
  }

  revealBytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  equals(other: Secret): boolean {
    return this.#bytes.equals(other.#bytes);
  }

  /** Overwrites the held bytes; the secret reads as empty afterwards. */
  dispose(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

/** Runs `work`, then wipes `secrets` from memory, whether it succeeded or not. */
export async function withSecrets<T>(secrets: Secret[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    for (const secret of secrets) secret.dispose();
  }
}
