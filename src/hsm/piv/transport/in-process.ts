/** A card in this very process (the virtual YubiKey): for fast tests and the demo. */
import { ExclusiveLock, type CardTransport, type SmartCard } from './transport.js';

export class InProcessTransport implements CardTransport {
  readonly reader: string;
  readonly #card: SmartCard;
  readonly #lock = new ExclusiveLock();

  constructor(card: SmartCard, reader = 'Keyward virtual YubiKey (in-process)') {
    this.#card = card;
    this.reader = reader;
  }

  transmit(apdu: Uint8Array): Promise<Uint8Array> {
    return this.#card.process(apdu);
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#lock.run(this, work);
  }

  async close(): Promise<void> {
    // Nothing to release: the card object lives on, as a card stays in its reader.
  }
}
