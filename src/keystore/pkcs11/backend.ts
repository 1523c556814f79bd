/**
 * The keystore backend for `pkcs11:` URIs: adapts the PKCS#11 driver to the KeystoreBackend
 * interface. Resolving URIs is in resolve.ts, logging in in login.ts, key handles in handle.ts,
 * token administration in administration.ts.
 */
import { ALGORITHMS, KEY_ALGORITHMS } from '../../crypto/algorithms.js';
import { AuthError, keywardError } from '../../errors.js';
import { deleteKey, findKeys, generateKeyPair, type Pkcs11Key } from '../../hsm/pkcs11/keys.js';
import { keyPairTemplates } from '../../hsm/pkcs11/templates.js';
import type { Token } from '../../hsm/pkcs11/token.js';
import type { BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend } from '../backend.js';
import type { UriOrigin } from '../uri/origin.js';
import { parsePkcs11Uri, type Pkcs11Uri } from '../uri/index.js';
import { Pkcs11Administration } from './administration.js';
import { Pkcs11KeyHandle } from './handle.js';
import { TokenLogins, tokenPinDevice } from './login.js';
import { keyFilter, Pkcs11Resolver, requireKeySelector, type Pkcs11Settings } from './resolve.js';

/** Hex of a CKA_ID for messages and JSON. */
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class Pkcs11Backend implements KeystoreBackend {
  readonly scheme = 'pkcs11';
  readonly administration: Pkcs11Administration;
  readonly #ctx: BackendContext;
  readonly #resolver: Pkcs11Resolver;
  readonly #logins: TokenLogins;

  constructor(context: BackendContext, settings: Pkcs11Settings) {
    this.#ctx = context;
    this.#resolver = new Pkcs11Resolver(context, settings);
    this.#logins = new TokenLogins(context, this.#resolver);
    this.administration = new Pkcs11Administration(context, this.#resolver, this.#logins);
  }

  #keyInfo(key: Pkcs11Key, uri: Pkcs11Uri): KeyInfo {
    const token = key.token.info();
    const attributes = key.privateAttributes();
    return {
      uri: this.#resolver.keyUri(key, uri),
      backend: this.scheme,
      label: key.label,
      algorithm: key.algorithm,
      device: `token "${token.label}" (${token.model}, serial ${token.serial})`,
      hasPrivateKey: key.privateKey !== undefined,
      hasCertificate: key.certificate !== undefined,
      nonExtractable: key.privateKey ? attributes.sensitive === true && attributes.extractable === false : undefined,
      ...(attributes.sensitive === true && attributes.extractable === true && attributes.wrapWithTrusted === true ? { backup: 'wrap' as const } : {}),
      details: {
        id: hex(key.id),
        token: token.label,
        serial: token.serial,
        objects: [key.privateKey && 'private', key.publicKey && 'public', key.certificate && 'cert'].filter(Boolean),
        attributes,
      },
    };
  }

  #handle(key: Pkcs11Key, uri: Pkcs11Uri): KeyHandle {
    return new Pkcs11KeyHandle(this.#logins, key, this.#keyInfo(key, uri), uri);
  }

  /**
   * The keys a URI names. Without logging in, a token shows its public objects (public keys and
   * certificates, which Keyward makes beside every key): a key found there is named without a PIN.
   * When nothing there matches, the PIN decides: at hand without asking (pin-source, pin-value,
   * KEYWARD_PIN_TOKEN_<serial>, KEYWARD_PIN not given to another device), Keyward logs in and searches the private objects too; else, on a token that does
   * show public keys, the answer is "no such key" (a misspelt name costs no PIN prompt and is not
   * reported as a missing PIN), said for what it is: a search of what the token shows without a PIN.
   * A token that shows nothing without a login is logged in to (and the PIN asked for) as before,
   * and so is one showing the public half of the key a type=private URI names.
   */
  async #findKeys(token: Token, uri: Pkcs11Uri, uriText: string): Promise<Pkcs11Key[]> {
    const filter = keyFilter(uri);
    const keys = findKeys(token, filter);
    if (keys.length > 0 || !token.info().loginRequired || token.isLoggedIn()) return keys;
    // A URI for the private half (type=private, as keys are printed) of a key whose public half is shown names a key that is there.
    const shown = filter.kind === 'private' ? findKeys(token, { ...filter, kind: undefined }).length > 0 : false;
    if (!shown && !this.#ctx.pins.atHand(uri, tokenPinDevice(token)) && findKeys(token).length > 0) {
      throw this.#resolver.keyNotFound(uriText, token, uri, { withoutPin: true });
    }
    await this.#logins.login(token, uri);
    return findKeys(token, filter);
  }

  async generate(uriText: string, options: GenerateOptions, origin: UriOrigin): Promise<KeyHandle> {
    const uri = parsePkcs11Uri(uriText);
    if (!uri.object) {
      throw keywardError('LABEL_REQUIRED', 'a new key needs a label', { hint: 'add object=<label> to the URI, e.g. "pkcs11:token=ca;object=root-2026"' });
    }
    if (uri.type && uri.type !== 'private') {
      throw keywardError('OBJECT_TYPE_INVALID', `generate makes a key pair; drop type=${uri.type} from the URI`);
    }
    if (options.pinPolicy || options.touchPolicy || options.overwrite) {
      throw keywardError('POLICY_UNSUPPORTED', 'PIN and touch policies and --overwrite are for YubiKey PIV slots; PKCS#11 tokens do not take them', {
        hint: 'to replace a PKCS#11 key, delete the old one first (keyward key delete)',
      });
    }
    if (options.backup === 'wrap' && ALGORITHMS[options.algorithm].family === 'ed25519') {
      throw keywardError(
        'BACKUP_UNSUPPORTED',
        'Keyward copies ECDSA and RSA keys between tokens, not Ed25519 keys (SoftHSM 2.6.1, for one, will not wrap an EdDSA private key)',
        {
          hint: 'make the key P-256, P-384 or RSA to back it up by wrapping',
        },
      );
    }
    const token = this.#resolver.token(uri, uriText, origin);
    await this.#logins.login(token, uri);
    const key = await generateKeyPair(token, { algorithm: options.algorithm, label: uri.object, id: uri.id, backup: options.backup });
    return this.#handle(key, uri);
  }

  async open(uriText: string, origin: UriOrigin): Promise<KeyHandle> {
    const uri = parsePkcs11Uri(uriText);
    requireKeySelector(uri, uriText, 'open a key');
    const token = this.#resolver.token(uri, uriText, origin);
    return this.#handle(this.#resolver.uniqueKey(await this.#findKeys(token, uri, uriText), uriText, token, uri), uri);
  }

  async list(uriText: string, origin: UriOrigin): Promise<KeyInfo[]> {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#resolver.module(uri, origin);
    const tokens = module.tokens().filter((t) => t.info().initialized && this.#resolver.matches(t, uri));
    if (tokens.length === 0 && uriText !== 'pkcs11:') this.#resolver.token(uri, uriText, origin); // raises TOKEN_NOT_FOUND with hints
    const result: KeyInfo[] = [];
    for (const token of tokens) {
      try {
        await this.#logins.login(token, uri);
      } catch (error) {
        if (!(error instanceof AuthError && (error.code === 'PIN_REQUIRED' || error.code === 'PIN_AMBIGUOUS'))) throw error;
        this.#ctx.interaction.warn(`no PIN for ${tokenPinDevice(token).name}: listing its public objects only (${error.message})`);
      }
      result.push(...findKeys(token, keyFilter(uri)).map((k) => this.#keyInfo(k, uri)));
    }
    return result;
  }

  async delete(uriText: string, origin: UriOrigin): Promise<KeyInfo> {
    const uri = parsePkcs11Uri(uriText);
    requireKeySelector(uri, uriText, 'delete a key');
    const token = this.#resolver.token(uri, uriText, origin);
    // A key that is not there is said so before a PIN is asked for (as open does); deleting needs the login.
    if ((await this.#findKeys(token, uri, uriText)).length === 0) throw this.#resolver.keyNotFound(uriText, token, uri);
    await this.#logins.login(token, uri);
    // The same selection a listing makes (type= included), so what is confirmed is what is destroyed.
    const key = this.#resolver.uniqueKey(findKeys(token, keyFilter(uri)), uriText, token, uri);
    const info = this.#keyInfo(key, uri);
    deleteKey(key);
    return info;
  }

  async capabilities(uriText: string, origin: UriOrigin): Promise<Capabilities> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#resolver.token(uri, uriText, origin);
    const algorithms = KEY_ALGORITHMS.filter((algorithm) => {
      const { mechanism } = keyPairTemplates(algorithm, Buffer.alloc(0), '').mechanism;
      const sizes = token.mechanismKeySizes(mechanism);
      const info = ALGORITHMS[algorithm];
      if (!sizes) return false;
      return info.family !== 'rsa' || sizes.max === 0 || (info.bits >= sizes.min && info.bits <= sizes.max);
    });
    return { algorithms, attestation: false, touch: false };
  }

  /**
   * Logs out of the tokens this backend logged in to. Modules stay initialised (C_Initialize is
   * once per process) and are finalised at exit.
   */
  async close(): Promise<void> {
    this.#logins.logoutAll();
  }
}
