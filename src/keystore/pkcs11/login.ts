/**
 * Spending a token's PINs: the user PIN from the URI's pin-source, the token's own
 * KEYWARD_PIN_TOKEN_<serial>, KEYWARD_PIN or a prompt (device-pins.ts); consent before a PIN's final
 * try; a hint to unblock a PIN that is locked. Remembers the tokens it logged in to, so the backend
 * can log out of them when it closes.
 */
import { AuthError } from '../../errors.js';
import { errorForCkr } from '../../hsm/pkcs11/errors.js';
import type { Token } from '../../hsm/pkcs11/token.js';
import type { Secret } from '../../secret.js';
import type { BackendContext } from '../backend.js';
import { consentToFinalTry } from '../consent.js';
import type { PinDevice } from '../device-pins.js';
import type { Pkcs11Uri } from '../uri/index.js';
import type { Pkcs11Resolver } from './resolve.js';

/** A token as the one its user PIN is for: by its serial, told apart from tokens of other modules. */
export function tokenPinDevice(token: Token): PinDevice {
  const { label, serial } = token.info();
  return {
    kind: 'token',
    serial: serial || undefined,
    id: `${token.module.path}\n${serial}\n${label}`,
    name: serial ? `token "${label}" (serial ${serial})` : `token "${label}"`,
  };
}

export class TokenLogins {
  readonly #ctx: BackendContext;
  readonly #resolver: Pkcs11Resolver;
  /** Tokens logged in to; logged out again by logoutAll(). */
  readonly #loggedIn = new Set<Token>();

  constructor(context: BackendContext, resolver: Pkcs11Resolver) {
    this.#ctx = context;
    this.#resolver = resolver;
  }

  /** Whether the user or SO PIN may be spent: asks only when the token says it is at its final try. */
  async allowFinalTry(token: Token, who: 'user' | 'so'): Promise<boolean> {
    if (token.info()[who === 'so' ? 'soPin' : 'userPin'] !== 'final-try') return this.#ctx.allowFinalTry;
    return consentToFinalTry(this.#ctx, `Token "${token.label}"`, who === 'so' ? 'SO PIN' : 'user PIN');
  }

  /** Logs in as the user if the token wants it. */
  async login(token: Token, uri: Pkcs11Uri): Promise<void> {
    if (token.isLoggedIn() || !token.info().loginRequired) return;
    await this.withUserPin(token, uri, 'user PIN', (pin, allowFinalTry) => token.login(pin, { allowFinalTry }));
  }

  /**
   * Spends the user PIN on `use` (a login, a PIN change, both of which leave the token logged in):
   * asks before its final try, and says so before asking for a PIN that is locked.
   */
  async withUserPin(token: Token, uri: Pkcs11Uri, what: string, use: (pin: Secret, allowFinalTry: boolean) => void): Promise<void> {
    const allowFinalTry = await this.allowFinalTry(token, 'user');
    try {
      if (token.info().userPin === 'locked') throw errorForCkr('CKR_PIN_LOCKED', token.ctx('log in with the user PIN'));
      const device = tokenPinDevice(token);
      const pin = await this.#ctx.pins.obtain(uri, device, `${what} of ${device.name}`);
      try {
        use(pin, allowFinalTry);
        this.#loggedIn.add(token);
      } finally {
        pin.dispose();
      }
    } catch (error) {
      throw this.#withUnblockHint(error, token, uri);
    }
  }

  #withUnblockHint(error: unknown, token: Token, uri: Pkcs11Uri): unknown {
    if (
      (error instanceof AuthError && ['PIN_LOCKED', 'PIN_NOT_INITIALIZED'].includes(error.code)) ||
      (error instanceof AuthError && error.code === 'PIN_INCORRECT' && error.details?.pin === 'locked')
    ) {
      const command = `keyward token unblock '${this.#resolver.tokenUri(token, uri)}'`;
      return error.withHint(error.code === 'PIN_NOT_INITIALIZED' ? `set a user PIN with the SO PIN: ${command}` : `unblock it with the SO PIN: ${command}`);
    }
    return error;
  }

  /**
   * Logs out of the tokens logged in to. PKCS#11 login belongs to the whole process, so this also
   * logs out other keystores in the process that use the same token.
   */
  logoutAll(): void {
    for (const token of this.#loggedIn) token.logout();
    this.#loggedIn.clear();
  }
}
