/**
 * The PIV channel: one command in, one response out, whatever the lengths. It chains long commands
 * (CLA 0x10), collects chained responses (61xx / GET RESPONSE), turns status words into errors,
 * shows a touch notice when a card goes quiet, and never waits for ever.
 */
import { keywardError } from '../../errors.js';
import { chainCommand, GET_RESPONSE, isBytesRemaining, parseResponse, type ResponseApdu } from './apdu.js';
import { CardResponseError, statusError, TouchTimeoutError, type StatusContext } from './errors.js';
import { SW } from './spec.js';
import { concat } from './tlv.js';
import type { CardTransport } from './transport/transport.js';

/** A notice shown while the card waits for a touch; cleared when the card answers, `touched` when it went on (not when it gave up). */
export interface TouchNotice {
  clear(touched?: boolean): void;
}

export interface ChannelOptions {
  /** The device, for messages. */
  device?: string;
  /** Shows "Touch your YubiKey…"; called only once a touch-capable command has been silent a while. */
  onTouchWait?: () => TouchNotice;
  /** How long a card must be silent before the touch notice (ykman waits 0.5 s). */
  touchNoticeDelayMs?: number;
  /** Longest wait for one response; a YubiKey waits up to 15 s for a touch. */
  responseTimeoutMs?: number;
}

export interface CommandOptions extends StatusContext {
  /** The command may wait for a touch: show the notice if the card goes quiet. */
  mayNeedTouch?: boolean;
}

/** Guards against a card that keeps announcing more bytes. */
const MAX_RESPONSE_BYTES = 65536;

export class PivChannel {
  readonly transport: CardTransport;
  readonly options: ChannelOptions;
  /** APDUs sent since the channel was made (for benchmarks and diagnostics). */
  apduCount = 0;

  constructor(transport: CardTransport, options: ChannelOptions = {}) {
    this.transport = transport;
    this.options = options;
  }

  async #transmit(apdu: Uint8Array, ctx: CommandOptions): Promise<{ response: ResponseApdu; waitedForTouch: boolean }> {
    this.apduCount++;
    const timeoutMs = this.options.responseTimeoutMs ?? 30_000;
    let notice: TouchNotice | undefined;
    let waitNoted: (() => void) | undefined;
    const noticeDelayMs = this.options.touchNoticeDelayMs ?? 500;
    const noticeTimer =
      ctx.mayNeedTouch && (this.options.onTouchWait || this.transport.awaitingTouch)
        ? setTimeout(() => {
            // For other programs first (a command interrupted now leaves the card waiting), then for the person.
            waitNoted = this.transport.awaitingTouch?.(Date.now() - noticeDelayMs);
            notice = this.options.onTouchWait?.();
          }, noticeDelayMs)
        : undefined;
    let timeout: NodeJS.Timeout | undefined;
    const started = performance.now();
    let touched = false;
    try {
      const raw = await Promise.race([
        this.transport.transmit(apdu),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () =>
              reject(
                keywardError('CARD_TIMEOUT', `cannot ${ctx.operation}: the card did not answer within ${timeoutMs / 1000} s`, {
                  hint: 'unplug and replug the YubiKey; if another program is using it, close that program',
                }),
              ),
            timeoutMs,
          );
        }),
      ]);
      let response: ResponseApdu;
      try {
        response = parseResponse(raw);
      } catch (cause) {
        throw new CardResponseError(`cannot ${ctx.operation}: the card's answer is malformed (${raw.length} bytes)`, { cause });
      }
      const waitedForTouch = notice !== undefined || waitNoted !== undefined || (ctx.mayNeedTouch === true && performance.now() - started >= noticeDelayMs);
      // The card went on (data, or more of it to come): it was touched. 6982 is a touch that never came.
      touched = response.sw === SW.SUCCESS || isBytesRemaining(response.sw);
      return { response, waitedForTouch };
    } finally {
      clearTimeout(noticeTimer);
      clearTimeout(timeout);
      waitNoted?.();
      notice?.clear(touched);
    }
  }

  /** Sends a command and returns data and status word as the card gave them (after response chaining). */
  async exchange(ins: number, p1: number, p2: number, data: Uint8Array, ctx: CommandOptions): Promise<ResponseApdu & { waitedForTouch: boolean }> {
    const blocks = chainCommand(0x00, ins, p1, p2, data);
    let last: { response: ResponseApdu; waitedForTouch: boolean } | undefined;
    for (const [index, block] of blocks.entries()) {
      last = await this.#transmit(block, ctx);
      if (index < blocks.length - 1 && last.response.sw !== SW.SUCCESS) {
        return { ...last.response, waitedForTouch: last.waitedForTouch };
      }
    }
    let { response, waitedForTouch } = last!;
    const parts = [response.data];
    let total = response.data.length;
    while (isBytesRemaining(response.sw)) {
      const next = await this.#transmit(GET_RESPONSE(response.sw & 0xff), ctx);
      response = next.response;
      total += response.data.length;
      if (total > MAX_RESPONSE_BYTES) {
        throw new CardResponseError(`cannot ${ctx.operation}: the card keeps sending more data (over ${MAX_RESPONSE_BYTES} bytes)`);
      }
      if (response.data.length === 0 && isBytesRemaining(response.sw)) {
        throw new CardResponseError(`cannot ${ctx.operation}: the card announces more data but sends none`);
      }
      parts.push(response.data);
    }
    return { data: concat(...parts), sw: response.sw, waitedForTouch };
  }

  /** Sends a command; returns its data on 9000, else throws the status word's error. */
  async send(ins: number, p1: number, p2: number, data: Uint8Array, ctx: CommandOptions): Promise<Uint8Array> {
    const response = await this.exchange(ins, p1, p2, data, ctx);
    if (response.sw === SW.SUCCESS) return response.data;
    // A 6982 after the card sat waiting is a touch that never came, not a missing PIN or wrong key.
    if (response.sw === SW.SECURITY_STATUS_NOT_SATISFIED && response.waitedForTouch) {
      throw new TouchTimeoutError({ ...ctx, device: ctx.device ?? this.options.device });
    }
    throw statusError(response.sw, { ...ctx, device: ctx.device ?? this.options.device });
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.transport.exclusive(work);
  }
}
