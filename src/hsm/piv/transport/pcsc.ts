/**
 * PC/SC transport (pcsc-lite's pcscd on Linux, the platform service elsewhere) on the `smartcard`
 * binding. The card is opened shared; a multi-APDU operation reconnects it exclusive for its span
 * and back to shared, always leaving the card as it was (SCARD_LEAVE_CARD: no reset, so other
 * programs keep the PIN-verified state they expect).
 */
import { createRequire } from 'node:module';
import type { CardInterface as Card, ContextInterface as Context, ReaderInterface as Reader } from 'smartcard';
import { pcscError } from '../errors.js';
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

export class PcscTransport implements CardTransport {
  readonly reader: string;
  readonly #context: Context;
  readonly #card: Card;
  readonly #lock = new ExclusiveLock();

  private constructor(reader: string, context: Context, card: Card) {
    this.reader = reader;
    this.#context = context;
    this.#card = card;
  }

  static async connect(readerName: string): Promise<PcscTransport> {
    const sc = smartcard();
    let context: Context;
    try {
      context = new sc.Context();
    } catch (error) {
      throw pcscError(error, 'connect to the PC/SC service');
    }
    try {
      const reader = context.listReaders().find((r: Reader) => r.name === readerName);
      if (!reader) throw new Error(`unknown reader "${readerName}"`);
      const card = await reader.connect(sc.SCARD_SHARE_SHARED, sc.SCARD_PROTOCOL_T1);
      return new PcscTransport(readerName, context, card);
    } catch (error) {
      context.close();
      throw pcscError(error, `connect to the card in "${readerName}"`);
    }
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    try {
      // The driver does response chaining itself (61xx / GET RESPONSE), as SP 800-73-4 describes.
      return await this.#card.transmit(Buffer.from(apdu), { autoGetResponse: false, maxRecvLength: 65538 });
    } catch (error) {
      throw pcscError(error, `talk to the card in "${this.reader}"`);
    }
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const sc = smartcard();
    const reconnect = async (share: number) => {
      try {
        await this.#card.reconnect(share, sc.SCARD_PROTOCOL_T1, sc.SCARD_LEAVE_CARD);
      } catch (error) {
        throw pcscError(error, `take hold of the card in "${this.reader}"`);
      }
    };
    return this.#lock.run(work, () => reconnect(sc.SCARD_SHARE_EXCLUSIVE), () => reconnect(sc.SCARD_SHARE_SHARED));
  }

  async close(): Promise<void> {
    try {
      this.#card.disconnect(smartcard().SCARD_LEAVE_CARD);
    } finally {
      this.#context.close();
    }
  }
}
