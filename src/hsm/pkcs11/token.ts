/**
 * One token in one slot: its information, its sessions, login with PIN safety, and the object and
 * cryptographic calls the rest of the driver builds on.
 */
import pkcs11js from 'pkcs11js';
import { keywardError } from '../../errors.js';
import { Secret } from '../../secret.js';
import { CKS_RO_USER_FUNCTIONS, CKS_RW_SO_FUNCTIONS, CKS_RW_USER_FUNCTIONS, ckUser, type UserType } from './constants.js';
import { ckrOf, errorForCkr, pkcs11Call, translatePkcs11Error, type Pkcs11ErrorContext } from './errors.js';
import { slotIdOf, unpad } from './fields.js';
import { SessionPool } from './session-pool.js';
import { uninterrupted } from './uninterrupted.js';

/**
 * What the token's flags say about a PIN's retry counter (PKCS#11 §5.2 CK_TOKEN_INFO flags), named
 * after the flags. Only FINAL_TRY and LOCKED say how many tries remain; COUNT_LOW is defined as "a
 * wrong PIN was entered at least once since the last successful authentication" (SoftHSM sets it
 * after any wrong PIN), which says nothing of how many remain.
 */
export type PinCounterState = 'ok' | 'count-low' | 'final-try' | 'locked';

export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  slotId: number;
  slotDescription: string;
  slotManufacturer: string;
  initialized: boolean;
  loginRequired: boolean;
  userPinInitialized: boolean;
  writeProtected: boolean;
  userPin: PinCounterState;
  soPin: PinCounterState;
  minPinLength: number;
  maxPinLength: number;
  hardwareVersion: string;
  firmwareVersion: string;
}

export interface LoginOptions {
  userType?: UserType;
  /** Spend the PIN's last try. Without it, a token at its final try refuses to be asked. */
  allowFinalTry?: boolean;
}

/** "effectively infinite" and "unknown" session limits (PKCS#11 §5.2). */
const UNLIMITED_SESSIONS = new Set([0, 0xffffffff, Number.MAX_SAFE_INTEGER]);
const MAX_POOLED_SESSIONS = 8;

function pinState(flags: number, user: UserType): PinCounterState {
  const [locked, finalTry, countLow] =
    user === 'so'
      ? [pkcs11js.CKF_SO_PIN_LOCKED, pkcs11js.CKF_SO_PIN_FINAL_TRY, pkcs11js.CKF_SO_PIN_COUNT_LOW]
      : [pkcs11js.CKF_USER_PIN_LOCKED, pkcs11js.CKF_USER_PIN_FINAL_TRY, pkcs11js.CKF_USER_PIN_COUNT_LOW];
  if (flags & locked) return 'locked';
  if (flags & finalTry) return 'final-try';
  if (flags & countLow) return 'count-low';
  return 'ok';
}

/** How a retry counter reads to a person, after a wrong PIN. */
export function describePinState(state: PinCounterState): string {
  switch (state) {
    case 'locked':
      return 'the PIN is now locked';
    case 'final-try':
      return 'one attempt is left before the PIN locks';
    case 'count-low':
      return 'the token does not say how many attempts remain (it reports a wrong PIN since the last successful login)';
    case 'ok':
      return 'the token does not say how many attempts remain';
  }
}

export interface ModuleInfo {
  manufacturer: string;
  description: string;
  version: string;
  cryptokiVersion: string;
}

/**
 * What a token needs of the module it is in: module.ts's Pkcs11Module, which makes the tokens (so
 * this file does not import it).
 */
export interface TokenModule {
  readonly path: string;
  readonly lib: pkcs11js.PKCS11;
  info(): ModuleInfo;
}

export class Token {
  readonly module: TokenModule;
  readonly slot: Buffer;
  #anchor: Buffer | undefined;
  #pool: SessionPool | undefined;
  #mechanisms: Set<number> | undefined;
  #info: TokenInfo | undefined;

  constructor(module: TokenModule, slot: Buffer) {
    this.module = module;
    this.slot = slot;
  }

  get lib(): pkcs11js.PKCS11 {
    return this.module.lib;
  }

  /** Token and slot information, read fresh from the module (flags change with every login). */
  info(): TokenInfo {
    const ctx = { operation: 'read token information' };
    const t = pkcs11Call(ctx, () => this.lib.C_GetTokenInfo(this.slot));
    const s = pkcs11Call(ctx, () => this.lib.C_GetSlotInfo(this.slot));
    const version = (v: pkcs11js.Version) => `${v.major}.${v.minor}`;
    this.#info = {
      label: unpad(t.label),
      manufacturer: unpad(t.manufacturerID),
      model: unpad(t.model),
      serial: unpad(t.serialNumber),
      slotId: slotIdOf(this.slot),
      slotDescription: unpad(s.slotDescription),
      slotManufacturer: unpad(s.manufacturerID),
      initialized: (t.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0,
      loginRequired: (t.flags & pkcs11js.CKF_LOGIN_REQUIRED) !== 0,
      userPinInitialized: (t.flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0,
      writeProtected: (t.flags & pkcs11js.CKF_WRITE_PROTECTED) !== 0,
      userPin: pinState(t.flags, 'user'),
      soPin: pinState(t.flags, 'so'),
      minPinLength: t.minPinLen,
      maxPinLength: t.maxPinLen,
      hardwareVersion: version(t.hardwareVersion),
      firmwareVersion: version(t.firmwareVersion),
    };
    return this.#info;
  }

  /** The label as last read (reads once if never read). */
  get label(): string {
    return (this.#info ?? this.info()).label;
  }

  ctx(operation: string): Pkcs11ErrorContext {
    return { operation, token: this.label };
  }

  /**
   * The session synchronous calls use. It stays open for the token's life: PKCS#11 keeps the login
   * state only while the application has a session open.
   */
  session(): Buffer {
    if (!this.#anchor) {
      this.#anchor = pkcs11Call(this.ctx('open a session'), () => this.lib.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    }
    return this.#anchor;
  }

  #sessionPool(): SessionPool {
    if (!this.#pool) {
      const info = pkcs11Call(this.ctx('read token information'), () => this.lib.C_GetTokenInfo(this.slot));
      const limit = UNLIMITED_SESSIONS.has(info.maxSessionCount) ? MAX_POOLED_SESSIONS : Math.min(MAX_POOLED_SESSIONS, info.maxSessionCount - 1);
      this.#pool = new SessionPool(this.lib, this.slot, limit, this.label);
    }
    return this.#pool;
  }

  /** Runs one asynchronous operation on a session of its own. */
  async withPooledSession<T>(operation: string, fn: (session: Buffer) => Promise<T>): Promise<T> {
    const pool = this.#sessionPool();
    const session = await pool.acquire();
    try {
      const result = await fn(session);
      pool.release(session);
      return result;
    } catch (error) {
      // After a failure an operation may still be active on the session: start afresh.
      pool.discard(session);
      throw translatePkcs11Error(error, this.ctx(operation));
    }
  }

  isLoggedIn(userType: UserType = 'user'): boolean {
    const state = pkcs11Call(this.ctx('read session state'), () => this.lib.C_GetSessionInfo(this.session())).state;
    return userType === 'so' ? state === CKS_RW_SO_FUNCTIONS : state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
  }

  /**
   * C_Login with PIN safety: refuses a locked PIN, refuses to spend a final try unless allowed, never
   * retries, and after a wrong PIN reports what the token says of the attempts left.
   */
  login(pin: Secret, options: LoginOptions = {}): void {
    const userType = options.userType ?? 'user';
    const who = userType === 'so' ? 'SO PIN' : 'user PIN';
    if (this.isLoggedIn(userType)) return;
    const before = this.info()[userType === 'so' ? 'soPin' : 'userPin'];
    if (before === 'locked') {
      throw errorForCkr('CKR_PIN_LOCKED', this.ctx(`log in with the ${who}`));
    }
    if (before === 'final-try' && !options.allowFinalTry) {
      throw keywardError('PIN_FINAL_TRY', `the ${who} of token "${this.label}" has one try left before it locks`, {
        hint: 'Keyward will not spend the last try without your confirmation: confirm at the prompt, or pass --allow-final-try if you are sure of the PIN',
        details: { token: this.label, pin: before },
      });
    }
    try {
      uninterrupted(() => this.lib.C_Login(this.session(), ckUser(userType), pin.revealString()));
    } catch (error) {
      const ckr = ckrOf(error);
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') return;
      if (ckr === 'CKR_PIN_INCORRECT') {
        const after = this.info()[userType === 'so' ? 'soPin' : 'userPin'];
        throw keywardError('PIN_INCORRECT', `wrong ${who} for token "${this.label}": ${describePinState(after)}`, {
          cause: error,
          hint:
            after === 'locked'
              ? 'unblock it with the SO PIN: keyward token unblock <token-uri>'
              : 'check the PIN and where it came from (pin-source, KEYWARD_PIN, the prompt); Keyward never retries by itself',
          details: { token: this.label, pin: after },
        });
      }
      throw translatePkcs11Error(error, this.ctx(`log in with the ${who}`));
    }
  }

  logout(): void {
    try {
      this.lib.C_Logout(this.session());
    } catch (error) {
      if (ckrOf(error) !== 'CKR_USER_NOT_LOGGED_IN') throw translatePkcs11Error(error, this.ctx('log out'));
    }
  }

  /** C_SetPIN: the logged-in user (or SO) changes their own PIN. */
  changePin(oldPin: Secret, newPin: Secret, options: LoginOptions = {}): void {
    this.login(oldPin, options);
    pkcs11Call(this.ctx('change the PIN'), () => uninterrupted(() => this.lib.C_SetPIN(this.session(), oldPin.revealString(), newPin.revealString())));
  }

  /** C_InitPIN as the SO: sets a new user PIN, which also unblocks a locked one. */
  resetUserPin(soPin: Secret, newUserPin: Secret, options: Omit<LoginOptions, 'userType'> = {}): void {
    if (this.isLoggedIn('user')) this.logout();
    this.login(soPin, { ...options, userType: 'so' });
    try {
      pkcs11Call(this.ctx('set the user PIN'), () => uninterrupted(() => this.lib.C_InitPIN(this.session(), newUserPin.revealString())));
    } finally {
      this.logout();
    }
  }

  mechanisms(): Set<number> {
    if (!this.#mechanisms) {
      this.#mechanisms = new Set(pkcs11Call(this.ctx('list mechanisms'), () => this.lib.C_GetMechanismList(this.slot)));
    }
    return this.#mechanisms;
  }

  mechanismKeySizes(mechanism: number): { min: number; max: number } | undefined {
    if (!this.mechanisms().has(mechanism)) return undefined;
    const info = pkcs11Call(this.ctx('read mechanism information'), () => this.lib.C_GetMechanismInfo(this.slot, mechanism));
    return { min: info.minKeySize, max: info.maxKeySize };
  }

  findObjects(template: pkcs11js.Template): Buffer[] {
    const session = this.session();
    return pkcs11Call(this.ctx('search objects'), () => {
      this.lib.C_FindObjectsInit(session, template);
      try {
        const found: Buffer[] = [];
        for (;;) {
          const batch = this.lib.C_FindObjects(session, 64);
          found.push(...batch);
          if (batch.length < 64) return found;
        }
      } finally {
        this.lib.C_FindObjectsFinal(session);
      }
    });
  }

  /**
   * Reads attributes; ones the object does not have, or that are sensitive, come back undefined
   * (the module refuses the whole call then, so they are read one by one).
   */
  readAttributes(object: Buffer, types: readonly number[]): Map<number, Buffer | undefined> {
    const session = this.session();
    const result = new Map<number, Buffer | undefined>();
    try {
      const values = this.lib.C_GetAttributeValue(
        session,
        object,
        types.map((type) => ({ type })),
      );
      for (const { type, value } of values) result.set(type, value as Buffer);
      return result;
    } catch (error) {
      const ckr = ckrOf(error);
      if (ckr !== 'CKR_ATTRIBUTE_SENSITIVE' && ckr !== 'CKR_ATTRIBUTE_TYPE_INVALID') {
        throw translatePkcs11Error(error, this.ctx('read object attributes'));
      }
    }
    for (const type of types) {
      try {
        const [attr] = this.lib.C_GetAttributeValue(session, object, [{ type }]);
        result.set(type, attr?.value as Buffer | undefined);
      } catch {
        result.set(type, undefined);
      }
    }
    return result;
  }

  createObject(template: pkcs11js.Template, operation: string): Buffer {
    return pkcs11Call(this.ctx(operation), () => this.lib.C_CreateObject(this.session(), template));
  }

  destroyObject(object: Buffer, operation: string): void {
    pkcs11Call(this.ctx(operation), () => this.lib.C_DestroyObject(this.session(), object));
  }

  generateKeyPair(
    mechanism: pkcs11js.Mechanism,
    publicTemplate: pkcs11js.Template,
    privateTemplate: pkcs11js.Template,
    operation: string,
  ): Promise<pkcs11js.KeyPair> {
    return this.withPooledSession(operation, (session) => this.lib.C_GenerateKeyPairAsync(session, mechanism, publicTemplate, privateTemplate));
  }

  /** C_SignInit + C_Sign on a pooled session, off the event loop. */
  sign(key: Buffer, mechanism: pkcs11js.Mechanism, data: Buffer, maxLength: number, operation: string): Promise<Buffer> {
    return this.withPooledSession(operation, (session) => {
      this.lib.C_SignInit(session, mechanism, key);
      return this.lib.C_SignAsync(session, data, Buffer.alloc(maxLength));
    });
  }

  closeSessions(): void {
    this.#pool?.closeAll();
    this.#pool = undefined;
    if (this.#anchor) {
      try {
        this.lib.C_CloseSession(this.#anchor);
      } catch {
        // Gone with the token already.
      }
      this.#anchor = undefined;
    }
    this.#mechanisms = undefined;
  }
}
