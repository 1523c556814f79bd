/**
 * Status words become typed errors at the lowest layer (SP 800-73-4 Part 2 Table 6, ISO 7816-4
 * §5.1.3, and what YubiKeys answer). Each says what failed, why, and what to do.
 */
import { AuthError, KeywardError, keywardError, type KeywardErrorOptions } from '../../errors.js';
import { hexSw } from './apdu.js';
import { SW, TOUCH_TIMEOUT_MS } from './spec.js';
import type { TouchWait } from './transport/touch-waits.js';
import { tries } from '../../words.js';

/** Which secret a VERIFY-like command was about. */
export type PivCredential = 'PIN' | 'PUK' | 'management key';

export interface StatusContext {
  /** What we were doing: "sign with slot 9c". */
  operation: string;
  credential?: PivCredential;
  /** The device, for messages: `YubiKey 12345678`. */
  device?: string;
}

const on = (ctx: StatusContext) => (ctx.device ? ` on ${ctx.device}` : '');

export class PinIncorrectError extends AuthError {
  readonly retriesLeft: number;
  constructor(ctx: StatusContext, retriesLeft: number, options: KeywardErrorOptions = {}) {
    const credential = ctx.credential ?? 'PIN';
    const left = retriesLeft === 0 ? `the ${credential} is now blocked` : `${tries(retriesLeft)} left`;
    super(credential === 'PUK' ? 'PUK_INCORRECT' : 'PIN_INCORRECT', `wrong ${credential}${on(ctx)}: ${left}`, {
      ...options,
      hint:
        retriesLeft === 0
          ? credential === 'PIN'
            ? 'unblock the PIN with the PUK: keyward yubikey pin unblock'
            : 'with both PIN and PUK blocked only a reset (erasing every key) is left: keyward yubikey reset'
          : `Keyward never retries by itself; check the ${credential} and where it came from`,
      details: { ...options.details, retriesLeft, credential },
    });
    this.retriesLeft = retriesLeft;
  }
}

export class TouchTimeoutError extends AuthError {
  constructor(ctx: StatusContext) {
    super('TOUCH_TIMEOUT', `cannot ${ctx.operation}: the YubiKey was not touched in time${on(ctx)}`, {
      hint: "run the command again and touch the YubiKey's contact when it blinks",
    });
  }
}

export class CardResponseError extends KeywardError {
  constructor(message: string, options: KeywardErrorOptions = {}) {
    super('CARD_RESPONSE_MALFORMED', message, {
      hint: 'the card answered something PIV does not allow; if this is a real YubiKey, report it with --debug output',
      ...options,
    });
  }
}

/** The error for a status word that is not success. */
export function statusError(sw: number, ctx: StatusContext): KeywardError {
  const details = { sw: hexSw(sw), operation: ctx.operation };
  if ((sw & 0xfff0) === SW.VERIFY_FAIL) return new PinIncorrectError(ctx, sw & 0x0f, { details });
  switch (sw) {
    case SW.AUTH_METHOD_BLOCKED:
      return ctx.credential === 'management key'
        ? keywardError('MANAGEMENT_KEY_BLOCKED', `cannot ${ctx.operation}: management key authentication is blocked${on(ctx)}`, { details })
        : new PinIncorrectError(ctx, 0, { details });
    case SW.SECURITY_STATUS_NOT_SATISFIED:
      return ctx.credential === 'management key'
        ? keywardError('MANAGEMENT_KEY_INCORRECT', `cannot ${ctx.operation}: the management key is wrong${on(ctx)}`, {
            details,
            hint: 'give the right key with management-key-source=file:… or KEYWARD_MANAGEMENT_KEY (hex)',
          })
        : keywardError('SECURITY_STATUS', `cannot ${ctx.operation}: the card wants the PIN (or a touch) first${on(ctx)}`, { details });
    case SW.CONDITIONS_NOT_SATISFIED:
      return keywardError('CONDITIONS_NOT_SATISFIED', `cannot ${ctx.operation}: the card refuses it in its current state${on(ctx)}`, { details });
    case SW.INCORRECT_DATA:
      return keywardError('CARD_REJECTED_DATA', `cannot ${ctx.operation}: the card rejected the data (wrong algorithm or length for this slot?)`, { details });
    case SW.FILE_NOT_FOUND:
    case SW.REFERENCE_NOT_FOUND:
      return keywardError('PIV_NOT_FOUND', `cannot ${ctx.operation}: the card has no such object or key${on(ctx)}`, { details });
    case SW.FUNCTION_NOT_SUPPORTED:
    case SW.INS_NOT_SUPPORTED:
    case SW.INCORRECT_P1P2:
      return keywardError('PIV_UNSUPPORTED', `cannot ${ctx.operation}: this YubiKey's firmware does not support it${on(ctx)}`, { details });
    case SW.NOT_ENOUGH_MEMORY:
      return keywardError('CARD_MEMORY', `cannot ${ctx.operation}: the card is out of memory${on(ctx)}`, { details });
    case SW.WRONG_LENGTH:
      return keywardError('CARD_WRONG_LENGTH', `cannot ${ctx.operation}: the card says the length is wrong`, { details });
    default:
      return keywardError('PIV_STATUS', `cannot ${ctx.operation}: the card answered status ${hexSw(sw)}${on(ctx)}`, { details });
  }
}

/** PC/SC failures, recognised by pcsc-lite's messages (the binding gives plain Errors). */
export function pcscError(error: unknown, operation: string): KeywardError {
  if (error instanceof KeywardError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const options = { cause: error, details: { pcsc: message } };
  if (/service not running|no service|cannot connect/i.test(message)) {
    return keywardError('PCSC_NOT_RUNNING', `cannot ${operation}: the PC/SC service (pcscd) is not running`, {
      ...options,
      hint: 'start it: sudo systemctl start pcscd (or pcscd --foreground); keyward doctor explains more',
    });
  }
  if (/sharing violation/i.test(message)) {
    return keywardError('CARD_IN_USE', `cannot ${operation}: another program holds the card exclusively`, {
      ...options,
      hint:
        "gpg's scdaemon often does: gpgconf --kill scdaemon, then try again; or a command waiting for a touch (one interrupted with Ctrl-C too: " +
        `the card holds on until it is touched or gives up, within ${TOUCH_TIMEOUT_MS / 1000} s): touch the YubiKey, or wait and try again`,
    });
  }
  if (/no readers|reader.*not.*found|unknown reader/i.test(message)) {
    return keywardError('NO_READER', `cannot ${operation}: no smart-card reader is available`, {
      ...options,
      hint: 'plug the YubiKey in; if it is in, its CCID interface may be disabled (keyward doctor)',
    });
  }
  if (/removed|no smart ?card|transaction failed|reset|unpowered|invalid handle/i.test(message)) {
    return keywardError('CARD_GONE', `cannot ${operation}: the card was removed or reset (${message})`, {
      ...options,
      hint: 'reinsert the YubiKey and try again',
    });
  }
  return keywardError('PCSC_ERROR', `cannot ${operation}: PC/SC error: ${message}`, options);
}

/**
 * The card is held because it waits for a touch another Keyward command asked for (touch-waits.ts):
 * that command still runs, or it was interrupted and the card holds on until touched or it gives up.
 */
export function cardAwaitingTouch(operation: string, wait: TouchWait): KeywardError {
  const seconds = Math.max(1, Math.ceil(wait.remainingMs / 1000));
  const details = { pendingTouch: { pid: wait.pid, since: new Date(wait.since).toISOString(), running: wait.running } };
  if (wait.running) {
    return keywardError('CARD_IN_USE', `cannot ${operation}: another Keyward command (process ${wait.pid}) is waiting for a touch on this YubiKey`, {
      details,
      hint: `touch the YubiKey for that command, or wait (the card gives up within ${seconds} s) and try again`,
    });
  }
  const ago = Math.max(0, Math.round((Date.now() - wait.since) / 1000));
  return keywardError(
    'CARD_IN_USE',
    `cannot ${operation}: the YubiKey is still waiting for a touch, which a Keyward command asked for ${ago} s ago before it was interrupted; the card is held until it is touched or gives up`,
    {
      details,
      hint: `touch it to end that wait now (the interrupted command's result is thrown away), or wait up to ${seconds} s; then run this again`,
    },
  );
}
