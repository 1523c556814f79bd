/**
 * CKR_* return values become errors that say what failed, why, and what to do. The driver knows
 * the operation and the token; callers that know more (the keystore knows the CLI) may sharpen the
 * hint.
 */
import pkcs11js from 'pkcs11js';
import { KeywardError, keywardError, type KeywardErrorOptions } from '../../errors.js';
import { ckrName } from './constants.js';

export interface Pkcs11ErrorContext {
  /** What we were doing, as a person would say it: "sign with key 'ca'". */
  operation: string;
  /** The token's label, when one is involved. */
  token?: string;
}

/** The CKR name of a pkcs11js error, or undefined when the error did not come from the module. */
export function ckrOf(error: unknown): string | undefined {
  if (error instanceof pkcs11js.Pkcs11Error) return error.message;
  // C_SetAttributeValue throws a plain Error("CKR_…:16").
  if (error instanceof Error) {
    const match = /^(CKR_[A-Z0-9_]+)(?::(\d+))?/.exec(error.message);
    if (match) return match[1];
  }
  return undefined;
}

type Maker = (ctx: Pkcs11ErrorContext, options: KeywardErrorOptions) => KeywardError;

const on = (ctx: Pkcs11ErrorContext) => (ctx.token ? ` on token "${ctx.token}"` : '');

const TRANSLATIONS: Record<string, Maker> = {
  CKR_PIN_INCORRECT: (ctx, o) =>
    keywardError('PIN_INCORRECT', `cannot ${ctx.operation}: wrong PIN${on(ctx)}`, {
      ...o,
      hint: 'check the PIN and its source (pin-source, KEYWARD_PIN or the prompt); Keyward never retries a PIN by itself',
    }),
  CKR_PIN_LOCKED: (ctx, o) =>
    keywardError('PIN_LOCKED', `cannot ${ctx.operation}: the user PIN${on(ctx)} is locked`, {
      ...o,
      hint: 'unblock it by setting a new user PIN with the SO PIN (keyward token unblock <token-uri>)',
    }),
  CKR_PIN_EXPIRED: (ctx, o) =>
    keywardError('PIN_EXPIRED', `cannot ${ctx.operation}: the PIN${on(ctx)} has expired`, {
      ...o,
      hint: 'change it with keyward token change-pin <token-uri>',
    }),
  CKR_PIN_LEN_RANGE: (ctx, o) => keywardError('PIN_LENGTH', `cannot ${ctx.operation}: the PIN's length is outside what the token accepts`, o),
  CKR_PIN_INVALID: (ctx, o) => keywardError('PIN_INVALID', `cannot ${ctx.operation}: the PIN has characters the token does not accept`, o),
  CKR_USER_PIN_NOT_INITIALIZED: (ctx, o) =>
    keywardError('PIN_NOT_INITIALIZED', `cannot ${ctx.operation}: the token has no user PIN yet`, {
      ...o,
      hint: 'set one with the SO PIN: keyward token unblock <token-uri>',
    }),
  CKR_USER_NOT_LOGGED_IN: (ctx, o) => keywardError('LOGIN_REQUIRED', `cannot ${ctx.operation}: the token needs a PIN for this`, o),
  CKR_USER_TYPE_INVALID: (ctx, o) => keywardError('USER_TYPE_INVALID', `cannot ${ctx.operation}: invalid user type`, o),
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: (ctx, o) => keywardError('OTHER_USER_LOGGED_IN', `cannot ${ctx.operation}: another user (SO) is logged in${on(ctx)}`, o),
  CKR_TOKEN_NOT_PRESENT: (ctx, o) =>
    keywardError('TOKEN_NOT_PRESENT', `cannot ${ctx.operation}: the token is not present`, {
      ...o,
      hint: 'insert or reconnect the token, then try again',
    }),
  CKR_DEVICE_REMOVED: (ctx, o) => keywardError('TOKEN_REMOVED', `cannot ${ctx.operation}: the token was removed`, o),
  CKR_TOKEN_NOT_RECOGNIZED: (ctx, o) => keywardError('TOKEN_NOT_RECOGNIZED', `cannot ${ctx.operation}: the module does not recognise the token`, o),
  CKR_SLOT_ID_INVALID: (ctx, o) => keywardError('SLOT_NOT_FOUND', `cannot ${ctx.operation}: no such slot`, o),
  CKR_OBJECT_HANDLE_INVALID: (ctx, o) => keywardError('OBJECT_GONE', `cannot ${ctx.operation}: the object no longer exists (deleted by another program?)`, o),
  CKR_KEY_HANDLE_INVALID: (ctx, o) => keywardError('OBJECT_GONE', `cannot ${ctx.operation}: the key no longer exists (deleted by another program?)`, o),
  CKR_MECHANISM_INVALID: (ctx, o) => keywardError('MECHANISM_UNSUPPORTED', `cannot ${ctx.operation}: the token does not offer this mechanism`, o),
  CKR_MECHANISM_PARAM_INVALID: (ctx, o) => keywardError('MECHANISM_PARAM_INVALID', `cannot ${ctx.operation}: the token refused the mechanism's parameters`, o),
  CKR_KEY_TYPE_INCONSISTENT: (ctx, o) => keywardError('KEY_TYPE_MISMATCH', `cannot ${ctx.operation}: the key's type does not fit this operation`, o),
  CKR_KEY_FUNCTION_NOT_PERMITTED: (ctx, o) => keywardError('KEY_USE_FORBIDDEN', `cannot ${ctx.operation}: the key's attributes do not permit it`, o),
  CKR_KEY_NOT_WRAPPABLE: (ctx, o) =>
    keywardError(
      'KEY_NOT_WRAPPABLE',
      `cannot ${ctx.operation}: the token refuses to wrap the key (it may leave only wrapped by a key its Security Officer trusts, or not at all)`,
      o,
    ),
  CKR_KEY_UNEXTRACTABLE: (ctx, o) => keywardError('KEY_NOT_WRAPPABLE', `cannot ${ctx.operation}: the key is not extractable, wrapped or otherwise`, o),
  CKR_ATTRIBUTE_READ_ONLY: (ctx, o) =>
    keywardError(
      'TEMPLATE_REFUSED',
      `cannot ${ctx.operation}: the token refused to set an attribute that is read-only to this user (CKA_TRUSTED is the Security Officer's)`,
      o,
    ),
  CKR_KEY_SIZE_RANGE: (ctx, o) => keywardError('KEY_SIZE_UNSUPPORTED', `cannot ${ctx.operation}: the token does not support this key size`, o),
  CKR_DATA_LEN_RANGE: (ctx, o) => keywardError('DATA_LENGTH', `cannot ${ctx.operation}: the input has a length the mechanism does not accept`, o),
  CKR_TEMPLATE_INCONSISTENT: (ctx, o) => keywardError('TEMPLATE_REFUSED', `cannot ${ctx.operation}: the token refused the attribute template`, o),
  CKR_ATTRIBUTE_VALUE_INVALID: (ctx, o) => keywardError('TEMPLATE_REFUSED', `cannot ${ctx.operation}: the token refused an attribute value`, o),
  CKR_ATTRIBUTE_TYPE_INVALID: (ctx, o) => keywardError('TEMPLATE_REFUSED', `cannot ${ctx.operation}: the token does not know an attribute we sent`, o),
  CKR_TOKEN_WRITE_PROTECTED: (ctx, o) => keywardError('TOKEN_READ_ONLY', `cannot ${ctx.operation}: the token is write-protected`, o),
  CKR_SIGNATURE_INVALID: (ctx, o) => keywardError('SIGNATURE_INVALID', `cannot ${ctx.operation}: the signature is invalid`, o),
  CKR_FUNCTION_NOT_SUPPORTED: (ctx, o) => keywardError('FUNCTION_UNSUPPORTED', `cannot ${ctx.operation}: the module does not implement this function`, o),
  CKR_DEVICE_MEMORY: (ctx, o) =>
    keywardError('DEVICE_MEMORY', `cannot ${ctx.operation}: the token is out of memory`, {
      ...o,
      hint: 'delete keys or objects you no longer need (keyward key list / key delete)',
    }),
  CKR_GENERAL_ERROR: (ctx, o) =>
    keywardError('DEVICE_GENERAL_ERROR', `cannot ${ctx.operation}: the module reported a general error`, {
      ...o,
      hint:
        'for SoftHSM this usually means its token directory is missing or unreadable: check directories.tokendir ' +
        'in the file named by SOFTHSM2_CONF (default /etc/softhsm/softhsm2.conf)',
    }),
};

/** Turns anything a pkcs11js call threw into a KeywardError. */
export function translatePkcs11Error(error: unknown, ctx: Pkcs11ErrorContext): KeywardError {
  if (error instanceof KeywardError) return error;
  const ckr = ckrOf(error);
  const options: KeywardErrorOptions = { cause: error, details: { ckr, operation: ctx.operation, token: ctx.token } };
  if (ckr && TRANSLATIONS[ckr]) return TRANSLATIONS[ckr](ctx, options);
  if (ckr) {
    return keywardError('PKCS11_MODULE_ERROR', `cannot ${ctx.operation}: the module returned ${ckr}`, options);
  }
  const message = error instanceof Error ? error.message : String(error);
  return keywardError('PKCS11_FAILURE', `cannot ${ctx.operation}: ${message}`, options);
}

/** The error for a CKR we detected ourselves (e.g. from token flags), worded as if the module said it. */
export function errorForCkr(ckr: string, ctx: Pkcs11ErrorContext): KeywardError {
  return translatePkcs11Error(new Error(ckr), ctx);
}

/** Runs a synchronous PKCS#11 call, translating its failure. */
export function pkcs11Call<T>(ctx: Pkcs11ErrorContext, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw translatePkcs11Error(error, ctx);
  }
}

export { ckrName };
