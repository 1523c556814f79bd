/**
 * The card side of vsmartcard's vpcd protocol: plugs a SmartCard (the virtual YubiKey) into a real
 * pcscd through its vpcd reader driver. vpcd listens; the card connects to its TCP port. Every
 * message is a 2-byte big-endian length and a payload; a 1-byte payload is a control message
 * (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR), anything longer an APDU answered
 * with exactly one framed response.
 */
import { connect, type Socket } from 'node:net';
import type { SmartCard } from '../piv/transport/transport.js';

const POWER_OFF = 0x00;
const POWER_ON = 0x01;
const RESET = 0x02;
const GET_ATR = 0x04;

export interface VpcdOptions {
  host?: string;
  port: number;
  /** Reconnect after pcscd goes away (default: yes, every 500 ms). */
  reconnectMs?: number | false;
  onEvent?: (event: 'connected' | 'disconnected' | 'power-on' | 'power-off' | 'reset') => void;
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

export class VpcdConnection {
  readonly #card: SmartCard;
  readonly #options: VpcdOptions;
  #socket: Socket | undefined;
  #stopped = false;
  #buffer = Buffer.alloc(0);
  #queue: Promise<unknown> = Promise.resolve();
  #connected: Promise<void>;
  #resolveConnected!: () => void;

  constructor(card: SmartCard, options: VpcdOptions) {
    this.#card = card;
    this.#options = options;
    this.#connected = new Promise((resolve) => (this.#resolveConnected = resolve));
    this.#connect();
  }

  /** Resolves once vpcd has accepted the card (the reader then shows a card present). */
  get connected(): Promise<void> {
    return this.#connected;
  }

  #connect(): void {
    if (this.#stopped) return;
    const socket = connect({ host: this.#options.host ?? '127.0.0.1', port: this.#options.port });
    socket.setNoDelay(true);
    this.#socket = socket;
    socket.on('connect', () => {
      this.#options.onEvent?.('connected');
      this.#resolveConnected();
    });
    socket.on('data', (chunk: Buffer) => this.#receive(socket, chunk));
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('close', () => {
      if (this.#socket === socket) {
        this.#socket = undefined;
        this.#buffer = Buffer.alloc(0);
        this.#card.reset();
        this.#options.onEvent?.('disconnected');
      }
      const delay = this.#options.reconnectMs ?? 500;
      if (!this.#stopped && delay !== false) setTimeout(() => this.#connect(), delay);
    });
  }

  #receive(socket: Socket, chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 2) {
      const length = this.#buffer.readUInt16BE(0);
      if (this.#buffer.length < 2 + length) return;
      const payload = Uint8Array.prototype.slice.call(this.#buffer, 2, 2 + length);
      this.#buffer = this.#buffer.subarray(2 + length);
      // One message at a time, in order: vpcd expects exactly one answer per APDU, in sequence.
      this.#queue = this.#queue.then(() => this.#handle(socket, payload)).catch(() => undefined);
    }
  }

  async #handle(socket: Socket, payload: Uint8Array): Promise<void> {
    if (payload.length === 1) {
      switch (payload[0]) {
        case GET_ATR:
          socket.write(frame(this.#card.atr));
          return;
        case POWER_OFF:
          this.#card.reset();
          this.#options.onEvent?.('power-off');
          return;
        case POWER_ON:
          this.#card.reset();
          this.#options.onEvent?.('power-on');
          return;
        case RESET:
          this.#card.reset();
          this.#options.onEvent?.('reset');
          return;
        default:
          return;
      }
    }
    const response = await this.#card.process(payload);
    if (!socket.destroyed) socket.write(frame(response));
  }

  async close(): Promise<void> {
    this.#stopped = true;
    const socket = this.#socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 500).unref();
    });
  }
}
