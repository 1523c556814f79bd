/**
 * From a `pkcs11:` URI to what it names: the module (only one the operator allowed, when the URI
 * came from a file), exactly one token, the keys on it; and back, the URIs tokens and keys are
 * printed with.
 */
import { keywardError, NotFoundError } from '../../errors.js';
import { findKeys, type KeyFilter, type Pkcs11Key } from '../../hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../../hsm/pkcs11/module.js';
import type { Token } from '../../hsm/pkcs11/token.js';
import type { BackendContext } from '../backend.js';
import { devicePinVariable, SHARED_PIN_VARIABLE } from '../device-pins.js';
import type { UriOrigin } from '../uri/origin.js';
import { formatPkcs11Uri, redactUri, type Pkcs11Uri } from '../uri/index.js';

/** The PKCS#11 backend's own settings, from the keystore's options. */
export interface Pkcs11Settings {
  /** The module to use when a URI names none (`--module`). */
  module: string | undefined;
  /** The allow-list of modules that URIs read from files may name (default /etc/keyward/pkcs11-modules). */
  moduleAllowList: string | undefined;
}

export class Pkcs11Resolver {
  readonly #ctx: BackendContext;
  readonly #settings: Pkcs11Settings;

  constructor(context: BackendContext, settings: Pkcs11Settings) {
    this.#ctx = context;
    this.#settings = settings;
  }

  /** The module a URI names (only one the operator allowed, when the URI came from a file), else the default. */
  module(uri: Pkcs11Uri, origin: UriOrigin): Pkcs11Module {
    return Pkcs11Module.open(
      resolveModulePath({
        modulePath: uri.modulePath,
        moduleName: uri.moduleName,
        explicit: this.#settings.module,
        env: this.#ctx.env,
        fromFile: origin.kind === 'file' ? { file: origin.file, field: origin.field } : undefined,
        allowList: this.#settings.moduleAllowList,
      }),
    );
  }

  /** The URI a token is printed with; names the module when the user had to name it. */
  #tokenUriFields(token: Token, uri: Pkcs11Uri): Pkcs11Uri {
    const info = token.info();
    const fields: Pkcs11Uri = { model: info.model, manufacturer: info.manufacturer, serial: info.serial, token: info.label };
    if (uri.modulePath || uri.moduleName || this.#settings.module) fields.modulePath = token.module.path;
    return fields;
  }

  tokenUri(token: Token, uri: Pkcs11Uri): string {
    return formatPkcs11Uri(this.#tokenUriFields(token, uri));
  }

  keyUri(key: Pkcs11Key, uri: Pkcs11Uri): string {
    return formatPkcs11Uri({
      ...this.#tokenUriFields(key.token, uri),
      ...(key.id.length > 0 ? { id: key.id } : {}),
      object: key.label,
      type: key.privateKey ? 'private' : key.publicKey ? 'public' : 'cert',
    });
  }

  matches(token: Token, uri: Pkcs11Uri): boolean {
    const info = token.info();
    const module = token.module.info();
    const checks: Array<[unknown, unknown]> = [
      [uri.token, info.label],
      [uri.manufacturer, info.manufacturer],
      [uri.model, info.model],
      [uri.serial, info.serial],
      [uri.slotId, info.slotId],
      [uri.slotDescription, info.slotDescription],
      [uri.slotManufacturer, info.slotManufacturer],
      [uri.libraryManufacturer, module.manufacturer],
      [uri.libraryDescription, module.description],
    ];
    if (uri.libraryVersion !== undefined) {
      const [major, minor = '0'] = uri.libraryVersion.split('.');
      checks.push([`${Number(major)}.${Number(minor)}`, module.version]);
    }
    return checks.every(([wanted, actual]) => wanted === undefined || wanted === actual);
  }

  #describeTokens(tokens: Token[], uri: Pkcs11Uri): string {
    return tokens.map((t) => `  ${this.tokenUri(t, uri)}`).join('\n');
  }

  /** Exactly one initialised token that the URI names. */
  token(uri: Pkcs11Uri, uriText: string, origin: UriOrigin): Token {
    const all = this.module(uri, origin)
      .tokens()
      .filter((t) => t.info().initialized);
    const matching = all.filter((t) => this.matches(t, uri));
    if (matching.length === 1) return matching[0]!;
    if (matching.length === 0) {
      throw keywardError('TOKEN_NOT_FOUND', `no initialised token matches ${redactUri(uriText)}`, {
        hint: all.length
          ? `tokens here:\n${this.#describeTokens(all, uri)}`
          : 'this module has no initialised token; create one with keyward token init --label <name>',
      });
    }
    throw keywardError('TOKEN_AMBIGUOUS', `${matching.length} tokens match ${redactUri(uriText)}`, {
      hint: `name one with token= or serial=:\n${this.#describeTokens(matching, uri)}`,
    });
  }

  /** Exactly one of the keys found for a URI. */
  uniqueKey(keys: Pkcs11Key[], uriText: string, token: Token, uri: Pkcs11Uri): Pkcs11Key {
    if (keys.length === 1) return keys[0]!;
    if (keys.length === 0) throw this.keyNotFound(uriText, token, uri);
    throw keywardError('KEY_AMBIGUOUS', `${keys.length} keys match ${redactUri(uriText)}`, {
      hint: `add id= to name one:\n${keys.map((k) => `  ${this.keyUri(k, uri)}`).join('\n')}`,
    });
  }

  /**
   * No key matches: the keys the token does show, listed. `withoutPin`: only what it shows without
   * logging in was searched (public keys and certificates), and the message says so.
   */
  keyNotFound(uriText: string, token: Token, uri: Pkcs11Uri, options: { withoutPin?: boolean } = {}): NotFoundError {
    const present = findKeys(token);
    const shown = present.slice(0, 10).map((k) => `  ${this.keyUri(k, uri)}`);
    if (present.length > shown.length) shown.push(`  … and ${present.length - shown.length} more (keyward key list)`);
    if (options.withoutPin) {
      return keywardError('KEY_NOT_FOUND', `no key matches ${redactUri(uriText)} on token "${token.label}" among the objects it shows without a PIN`, {
        hint:
          `keys it shows without a PIN:\n${shown.join('\n')}\n` +
          `a private key stored without a public key or certificate shows only after logging in: give the PIN (${pinVariables(token)}, or pin-source=file:… in the URI) to search those too`,
      });
    }
    return keywardError('KEY_NOT_FOUND', `no key matches ${redactUri(uriText)} on token "${token.label}"`, {
      hint: present.length ? `keys on this token:\n${shown.join('\n')}` : 'the token holds no keys (visible with this PIN)',
    });
  }
}

/** The variables a token's user PIN may come from: its own, then KEYWARD_PIN. */
function pinVariables(token: Token): string {
  const own = devicePinVariable('token', token.info().serial);
  return own ? `${own} or ${SHARED_PIN_VARIABLE}` : SHARED_PIN_VARIABLE;
}

/** The key objects a URI's path names (RFC 7512 `id`, `object`, `type`). */
export function keyFilter(uri: Pkcs11Uri): KeyFilter {
  if (uri.type === 'secret-key' || uri.type === 'data') {
    throw keywardError('OBJECT_TYPE_UNSUPPORTED', `Keyward works with key pairs and certificates, not type=${uri.type} objects`);
  }
  return { id: uri.id, label: uri.object, kind: uri.type };
}

/** Refuses a URI that names a token but no key, for operations on one key. */
export function requireKeySelector(uri: Pkcs11Uri, uriText: string, verb: string): void {
  if (uri.object === undefined && uri.id === undefined) {
    throw keywardError('KEY_NOT_NAMED', `cannot ${verb}: ${redactUri(uriText)} names a token but no key`, {
      hint: 'add object=<label> or id=<%xx bytes> to the URI (keyward key list shows them)',
    });
  }
}
