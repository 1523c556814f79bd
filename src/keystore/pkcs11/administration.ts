/**
 * What `keyward token …` does with PKCS#11 tokens besides using keys: list them, initialise one
 * (SoftHSM), change and unblock the user PIN; and what a backup ceremony does: copy a key made for
 * it to a second token under wrap (key-copy.ts). Reached through `keystore.administration('pkcs11')`.
 */
import { keywardError } from '../../errors.js';
import { mechanismName } from '../../hsm/pkcs11/constants.js';
import type { Pkcs11Module } from '../../hsm/pkcs11/module.js';
import { fileStoreRisk, softHsmHasDatabaseStore, softHsmStore, type SoftHsmObjectStore, type SoftHsmStoreInfo } from '../../hsm/pkcs11/softhsm-store.js';
import type { PinCounterState, Token } from '../../hsm/pkcs11/token.js';
import type { Secret } from '../../secret.js';
import type { BackendContext } from '../backend.js';
import { devicePinVariable } from '../device-pins.js';
import { OPERATOR } from '../uri/origin.js';
import { parsePkcs11Uri, type Pkcs11Uri } from '../uri/index.js';
import { Pkcs11KeyCopy, type KeyCopyRequest, type KeyCopyResult } from './key-copy.js';
import type { TokenLogins } from './login.js';
import type { Pkcs11Resolver } from './resolve.js';

export interface TokenSummary {
  uri: string;
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  /** The variable its own user PIN may come from (KEYWARD_PIN_TOKEN_<serial>); undefined without a serial. */
  pinVariable: string | undefined;
  slotId: number;
  module: string;
  initialized: boolean;
  loginRequired: boolean;
  userPin: PinCounterState;
  soPin: PinCounterState;
  /** Mechanism names, when asked for. */
  mechanisms?: string[];
  /** SoftHSM only: how it keeps the token (`file`: a crash at a login can empty its token.object). */
  objectStore?: SoftHsmObjectStore;
}

/** The SoftHSM store a PKCS#11 module reads, when the module is SoftHSM. */
export interface SoftHsmStoreReport extends SoftHsmStoreInfo {
  module: string;
  /** Whether this SoftHSM was built with its database object store. */
  databaseStore: boolean;
}

export interface InitTokenRequest {
  label: string;
  soPin: Secret;
  userPin: Secret;
}

export class Pkcs11Administration {
  readonly #resolver: Pkcs11Resolver;
  readonly #logins: TokenLogins;
  readonly #keyCopy: Pkcs11KeyCopy;

  constructor(context: BackendContext, resolver: Pkcs11Resolver, logins: TokenLogins) {
    this.#resolver = resolver;
    this.#logins = logins;
    this.#keyCopy = new Pkcs11KeyCopy(context, resolver, logins);
  }

  /**
   * Copies a key made for backup (`backup: 'wrap'`) to a second token under wrap: the source
   * token's Security Officer trusts the destination's transport key, the key never leaves the two
   * tokens in the clear, and the copy is as protected as the key (key-copy.ts).
   */
  copyKey(request: KeyCopyRequest): Promise<KeyCopyResult> {
    return this.#keyCopy.copy(request);
  }

  tokens(uriText = 'pkcs11:', options: { mechanisms?: boolean; includeUninitialized?: boolean } = {}): TokenSummary[] {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#resolver.module(uri, OPERATOR);
    const stored = new Map(this.#softHsmStore(module)?.tokens.map((t) => [t.serial, t.objectStore]));
    return module
      .tokens()
      .filter((t) => (options.includeUninitialized || t.info().initialized) && this.#resolver.matches(t, uri))
      .map((t) => {
        const info = t.info();
        return {
          uri: this.#resolver.tokenUri(t, uri),
          label: info.label,
          manufacturer: info.manufacturer,
          model: info.model,
          serial: info.serial,
          pinVariable: devicePinVariable('token', info.serial),
          slotId: info.slotId,
          module: module.path,
          initialized: info.initialized,
          loginRequired: info.loginRequired,
          userPin: info.userPin,
          soPin: info.soPin,
          ...(options.mechanisms ? { mechanisms: [...t.mechanisms()].sort((a, b) => a - b).map(mechanismName) } : {}),
          ...(stored.has(info.serial) ? { objectStore: stored.get(info.serial) } : {}),
        };
      });
  }

  /** The SoftHSM store the module reads, or undefined when the module is not SoftHSM. */
  softHsmStore(uriText = 'pkcs11:'): SoftHsmStoreReport | undefined {
    return this.#softHsmStore(this.#resolver.module(parsePkcs11Uri(uriText), OPERATOR));
  }

  /**
   * What a crash can do to these tokens on SoftHSM's file object store, and what to do about it; for
   * `keyward doctor` and `keyward token init`. Undefined when none of them is on the file store.
   */
  fileStoreRisk(uriText: string, tokens: TokenSummary[]): { message: string; hint: string } | undefined {
    const store = this.softHsmStore(uriText);
    const atRisk = tokens.filter((t) => t.objectStore === 'file');
    if (!store?.tokenDir || atRisk.length === 0) return undefined;
    return fileStoreRisk(
      atRisk.map((t) => `"${t.label}"`),
      store.tokenDir,
      store.databaseStore,
    );
  }

  #softHsmStore(module: Pkcs11Module): SoftHsmStoreReport | undefined {
    if (module.info().manufacturer !== 'SoftHSM') return undefined;
    // SoftHSM reads SOFTHSM2_CONF from the process's environment (once, when it is loaded), not the keystore's.
    return { module: module.path, databaseStore: softHsmHasDatabaseStore(module.path), ...softHsmStore(process.env) };
  }

  /** Initialises a new token in a free slot (SoftHSM always has one). */
  initToken(uriText: string, request: InitTokenRequest): TokenSummary {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#resolver.module(uri, OPERATOR);
    const existing = module.tokens().filter((t) => t.info().initialized);
    if (existing.some((t) => t.label === request.label)) {
      throw keywardError('TOKEN_LABEL_IN_USE', `a token labelled "${request.label}" already exists`, {
        hint: 'choose another label: tokens are found by label, so labels must be unique',
      });
    }
    const free = module.slots().filter((s) => s.tokenPresent && (uri.slotId === undefined || s.slotId === uri.slotId));
    const slot = free.find((s) => !module.tokens().some((t) => t.slot.equals(s.handle) && t.info().initialized));
    if (!slot) {
      throw keywardError('NO_FREE_SLOT', 'no slot holds an uninitialised token', {
        hint: "SoftHSM always offers one; hardware HSMs are initialised with their vendor's tools",
      });
    }
    return this.#summary(module.initializeToken(slot.handle, request), uri);
  }

  #summary(token: Token, uri: Pkcs11Uri): TokenSummary {
    return this.tokens(this.#resolver.tokenUri(token, uri))[0]!;
  }

  /** Sets a new user PIN with the SO PIN (C_InitPIN), which also unblocks a locked PIN. */
  async unblock(uriText: string, soPin: Secret, newPin: Secret): Promise<TokenSummary> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#resolver.token(uri, uriText, OPERATOR);
    token.resetUserPin(soPin, newPin, { allowFinalTry: await this.#logins.allowFinalTry(token, 'so') });
    return this.#summary(token, uri);
  }

  /** Changes the user PIN (C_SetPIN); the current PIN comes from the URI's pin-source, the token's own variable, KEYWARD_PIN or a prompt. */
  async changePin(uriText: string, newPin: Secret): Promise<TokenSummary> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#resolver.token(uri, uriText, OPERATOR);
    await this.#logins.withUserPin(token, uri, 'current user PIN', (oldPin, allowFinalTry) => token.changePin(oldPin, newPin, { allowFinalTry }));
    return this.#summary(token, uri);
  }
}
