/**
 * How APDUs reach a card. The driver sees only this interface, so it cannot tell a YubiKey behind
 * pcscd from the virtual YubiKey in the same process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The host's side: a connection to one card in one reader. */
export interface CardTransport {
  /** The reader's name, as PC/SC reports it. */
  readonly reader: string;
  /** Sends one raw command APDU and returns the raw response (data ‖ SW1 SW2). */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /**
   * Runs `work` with the card held exclusively, so no other program's APDUs interleave with a
   * multi-APDU operation. Nested calls join the outer span.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Releases the card, leaving it as found (no reset, no power-down). */
  close(): Promise<void>;
  /**
   * Called when the card has gone quiet on a command that may need a touch (it waits for one since
   * `since`, ms since the epoch); the function returned is called when the card answers. A transport
   * whose card other programs share notes it for them (pcsc.ts); others need not implement it.
   */
  awaitingTouch?(since: number): () => void;
}

/** The card's side: something that answers APDUs (the virtual YubiKey, or a test double). */
export interface SmartCard {
  readonly atr: Uint8Array;
  /** Answers one command APDU with data ‖ SW1 SW2; never throws for bad input. */
  process(apdu: Uint8Array): Promise<Uint8Array>;
  /** Power cycle or warm reset: selected applications and security status are forgotten. */
  reset(): void;
}

/**
 * Serialises spans of exclusive access to one card within one process. A span entered again by
 * the same owner from inside itself (the same async context) joins it rather than waiting.
 */
export class ExclusiveLock {
  readonly #inside = new AsyncLocalStorage<object>();
  #tail: Promise<unknown> = Promise.resolve();

  async run<T>(
    owner: object,
    work: () => Promise<T>,
    enter: () => Promise<void> = async () => undefined,
    leave: () => Promise<void> = async () => undefined,
  ): Promise<T> {
    const current = this.#inside.getStore();
    if (current === owner) return work();
    if (current !== undefined) throw new Error("a second session tried to use the card inside another session's operation");
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous.catch(() => undefined);
    try {
      return await this.#inside.run(owner, async () => {
        await enter();
        try {
          return await work();
        } finally {
          await leave();
        }
      });
    } finally {
      release();
    }
  }
}
