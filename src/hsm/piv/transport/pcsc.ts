/**
 * PC/SC transport (pcsc-lite's pcscd on Linux, the platform service elsewhere) on the `smartcard`
 * binding. The card is held only for the span of one operation: connected exclusively (so no other
 * program's APDUs interleave), then released with SCARD_LEAVE_CARD (no reset, so the card keeps
 * its state for the next operation and for other programs). Between operations Keyward holds
 * nothing, so it never blocks gpg, ykman or a second Keyward.
 *
 * (The binding has no SCardBeginTransaction; and SCardReconnect to exclusive blocks for as long as
 * any other program holds the card shared, so it is not used.)
 */
import { createRequire } from 'node:module';
import type { CardInterface as Card, ContextInterface as Context, ReaderInterface as Reader } from 'smartcard';
import { cardAwaitingTouch, pcscError } from '../errors.js';
import { noteTouchWait, touchWaitOn } from './touch-waits.js';
import { ExclusiveLock, type CardTransport } from './transport.js';

// The binding is CommonJS with a native addon; load it only when PC/SC is actually used.
type SmartcardModule = typeof import('smartcard');
let binding: SmartcardModule | undefined;
function smartcard(): SmartcardModule {
  binding ??= createRequire(import.meta.url)('smartcard') as SmartcardModule;
  return binding;
}

export interface ReaderInfo {
  name: string;
  /** A card is in the reader. */
  cardPresent: boolean;
  atr: Uint8Array | undefined;
}

function withContext<T>(operation: string, work: (context: Context) => T): T {
  let context: Context;
  try {
    // A fresh context every time: after a pcscd restart an old one never recovers.
    context = new (smartcard().Context)();
  } catch (error) {
    throw pcscError(error, operation);
  }
  try {
    return work(context);
  } catch (error) {
    throw pcscError(error, operation);
  } finally {
    try {
      context.close();
    } catch {
      // Already closed with the service.
    }
  }
}

export function listReaders(): ReaderInfo[] {
  return withContext('list smart-card readers', (context) =>
    context.listReaders().map((reader: Reader) => ({
      name: reader.name,
      cardPresent: (reader.state & smartcard().SCARD_STATE_PRESENT) !== 0,
      atr: reader.atr ?? undefined,
    })),
  );
}

/** pcsc-lite counts card insertions and removals in the high word of a reader's state. */
const eventCount = (state: number) => state >>> 16;

/** One lock per reader for this process: two transports to one card take turns, never collide. */
const readerLocks = new Map<string, ExclusiveLock>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class PcscTransport implements CardTransport {
  readonly reader: string;
  readonly #lock: ExclusiveLock;
  readonly #events: number;
  #card: Card | undefined;
  #context: Context | undefined;
  /** How long to keep trying when another program holds the card exclusively. */
  readonly #busyTimeoutMs: number;

  private constructor(reader: string, events: number, busyTimeoutMs: number) {
    this.reader = reader;
    this.#events = events;
    this.#busyTimeoutMs = busyTimeoutMs;
    let lock = readerLocks.get(reader);
    if (!lock) readerLocks.set(reader, (lock = new ExclusiveLock()));
    this.#lock = lock;
  }

  /** Finds the reader and notes which card is in it (by pcsc-lite's insertion counter). */
  static async connect(readerName: string, options: { busyTimeoutMs?: number } = {}): Promise<PcscTransport> {
    const reader = withContext(`find reader "${readerName}"`, (context) => context.listReaders().find((r: Reader) => r.name === readerName));
    if (!reader) throw pcscError(new Error(`unknown reader "${readerName}"`), `connect to "${readerName}"`);
    if ((reader.state & smartcard().SCARD_STATE_PRESENT) === 0) {
      throw pcscError(new Error('no smart card in the reader'), `connect to the card in "${readerName}"`);
    }
    return new PcscTransport(readerName, eventCount(reader.state), options.busyTimeoutMs ?? 3000);
  }

  async #enter(): Promise<void> {
    const sc = smartcard();
    const operation = `take hold of the card in "${this.reader}"`;
    let context: Context;
    try {
      context = new sc.Context();
    } catch (error) {
      throw pcscError(error, operation);
    }
    try {
      const reader = context.listReaders().find((r: Reader) => r.name === this.reader);
      if (!reader || (reader.state & sc.SCARD_STATE_PRESENT) === 0) throw new Error('card removed');
      if (eventCount(reader.state) !== this.#events) {
        throw new Error('card removed and reinserted (or replaced) since this session began; start again');
      }
      const deadline = Date.now() + this.#busyTimeoutMs;
      for (let wait = 25; ; wait = Math.min(wait * 2, 250)) {
        try {
          this.#card = await reader.connect(sc.SCARD_SHARE_EXCLUSIVE, sc.SCARD_PROTOCOL_T1);
          break;
        } catch (error) {
          if (!/sharing violation/i.test((error as Error).message)) throw error;
          // Held for a touch a command asked for: said at once when that command was interrupted (the
          // card holds on until touched or it gives up), else once another Keyward had its chance to finish.
          const touch = touchWaitOn(this.reader);
          if (touch && (!touch.running || Date.now() + wait > deadline)) throw cardAwaitingTouch(operation, touch);
          if (Date.now() + wait > deadline) throw error;
          await sleep(wait);
        }
      }
      this.#context = context;
    } catch (error) {
      context.close();
      throw pcscError(error, operation);
    }
  }

  async #leave(): Promise<void> {
    const card = this.#card;
    const context = this.#context;
    this.#card = undefined;
    this.#context = undefined;
    try {
      card?.disconnect(smartcard().SCARD_LEAVE_CARD);
    } finally {
      context?.close();
    }
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.#card) return this.exclusive(() => this.transmit(apdu));
    try {
      // The driver does response chaining itself (61xx / GET RESPONSE), as SP 800-73-4 describes.
      return await this.#card.transmit(Buffer.from(apdu), { autoGetResponse: false, maxRecvLength: 65538 });
    } catch (error) {
      throw pcscError(error, `talk to the card in "${this.reader}"`);
    }
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#lock.run(
      this,
      work,
      () => this.#enter(),
      () => this.#leave(),
    );
  }

  /** Other programs find the card held while it waits: a note tells the next Keyward why (touch-waits.ts). */
  awaitingTouch(since: number): () => void {
    return noteTouchWait(this.reader, since);
  }

  async close(): Promise<void> {
    // Nothing is held between operations.
  }
}
