/**
 * The keystore backend for `pkcs11:` URIs: resolves a URI to a module, a token and a key, logs in
 * with the PIN from the right source, and adapts the PKCS#11 driver to the KeyHandle interface.
 */
import { parseCertificate } from '../../x509/certificate.js';
import { samePublicKey } from '../../x509/public-key.js';
import { ALGORITHMS, KEY_ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { ecdsaRawToDer } from '../../crypto/signature-encoding.js';
import { AuthError, CancelledError, ConflictError, NotFoundError, UsageError } from '../../errors.js';
import { deleteKey, findKeys, generateKeyPair, storeCertificate, type KeyFilter, type Pkcs11Key } from '../../hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../../hsm/pkcs11/module.js';
import { keyPairTemplates } from '../../hsm/pkcs11/templates.js';
import { initializeToken, type PinCounterState, type Token } from '../../hsm/pkcs11/token.js';
import { mechanismName } from '../../hsm/pkcs11/constants.js';
import { errorForCkr } from '../../hsm/pkcs11/errors.js';
import type { Secret } from '../../secret.js';
import { obtainPin } from '../pin.js';
import { OPERATOR, type UriOrigin } from '../key-uri.js';
import type { BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend, SignOptions } from '../backend.js';
import { formatPkcs11Uri, parsePkcs11Uri, redactUri, type Pkcs11Uri } from '../uri.js';

export interface TokenSummary {
  uri: string;
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  slotId: number;
  module: string;
  initialized: boolean;
  loginRequired: boolean;
  userPin: PinCounterState;
  soPin: PinCounterState;
  /** Mechanism names, when asked for. */
  mechanisms?: string[];
}

export interface InitTokenRequest {
  label: string;
  soPin: Secret;
  userPin: Secret;
}

/** Hex of a CKA_ID for messages and JSON. */
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class Pkcs11Backend implements KeystoreBackend {
  readonly scheme = 'pkcs11';
  readonly #ctx: BackendContext;
  /** Tokens this backend logged in to; logged out again by close(). */
  readonly #loggedIn = new Set<Token>();

  constructor(context: BackendContext) {
    this.#ctx = context;
  }

  // -- resolving URIs ---------------------------------------------------------------------------

  /** The module a URI names (only one the operator allowed, when the URI came from a file), else the default. */
  #module(uri: Pkcs11Uri, origin: UriOrigin): Pkcs11Module {
    return Pkcs11Module.open(
      resolveModulePath({
        modulePath: uri.modulePath,
        moduleName: uri.moduleName,
        explicit: this.#ctx.pkcs11Module,
        env: this.#ctx.env,
        fromFile: origin.kind === 'file' ? { file: origin.file, field: origin.field } : undefined,
        allowList: this.#ctx.pkcs11ModuleAllowList,
      }),
    );
  }

  /** The URI a token is printed with; names the module when the user had to name it. */
  #tokenUriFields(token: Token, uri: Pkcs11Uri): Pkcs11Uri {
    const info = token.info();
    const fields: Pkcs11Uri = { model: info.model, manufacturer: info.manufacturer, serial: info.serial, token: info.label };
    if (uri.modulePath || uri.moduleName || this.#ctx.pkcs11Module) fields.modulePath = token.module.path;
    return fields;
  }

  #tokenUri(token: Token, uri: Pkcs11Uri): string {
    return formatPkcs11Uri(this.#tokenUriFields(token, uri));
  }

  #keyUri(key: Pkcs11Key, uri: Pkcs11Uri): string {
    return formatPkcs11Uri({
      ...this.#tokenUriFields(key.token, uri),
      ...(key.id.length > 0 ? { id: key.id } : {}),
      object: key.label,
      type: key.privateKey ? 'private' : key.publicKey ? 'public' : 'cert',
    });
  }

  #matchesToken(token: Token, uri: Pkcs11Uri): boolean {
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
    return tokens.map((t) => `  ${this.#tokenUri(t, uri)}`).join('\n');
  }

  /** Exactly one initialised token that the URI names. */
  #token(uri: Pkcs11Uri, uriText: string, origin: UriOrigin): Token {
    const all = this.#module(uri, origin).tokens().filter((t) => t.info().initialized);
    const matching = all.filter((t) => this.#matchesToken(t, uri));
    if (matching.length === 1) return matching[0]!;
    if (matching.length === 0) {
      throw new NotFoundError('TOKEN_NOT_FOUND', `no initialised token matches ${redactUri(uriText)}`, {
        hint: all.length
          ? `tokens here:\n${this.#describeTokens(all, uri)}`
          : 'this module has no initialised token; create one with keyward token init --label <name>',
      });
    }
    throw new ConflictError('TOKEN_AMBIGUOUS', `${matching.length} tokens match ${redactUri(uriText)}`, {
      hint: `name one with token= or serial=:\n${this.#describeTokens(matching, uri)}`,
    });
  }

  #withUnblockHint(error: unknown, token: Token, uri: Pkcs11Uri): unknown {
    if (error instanceof AuthError && ['PIN_LOCKED', 'PIN_NOT_INITIALIZED'].includes(error.code) ||
        error instanceof AuthError && error.code === 'PIN_INCORRECT' && error.details?.pin === 'locked') {
      const command = `keyward token unblock '${this.#tokenUri(token, uri)}'`;
      return new AuthError(error.code, error.message, {
        cause: error.cause,
        details: error.details,
        hint: error.code === 'PIN_NOT_INITIALIZED' ? `set a user PIN with the SO PIN: ${command}` : `unblock it with the SO PIN: ${command}`,
      });
    }
    return error;
  }

  /**
   * Whether a PIN at its final try may be spent: yes with --allow-final-try or when the person says so;
   * a refusal cancels; with nobody to ask, no (the driver then refuses with a clear error).
   */
  async #finalTryConsent(token: Token, who: 'user' | 'so'): Promise<boolean> {
    const state = token.info()[who === 'so' ? 'soPin' : 'userPin'];
    if (state !== 'final-try' || this.#ctx.allowFinalTry) return this.#ctx.allowFinalTry;
    const pin = who === 'so' ? 'SO PIN' : 'user PIN';
    const answer = await this.#ctx.interaction.confirm(
      `Token "${token.label}" will lock its ${pin} after one more wrong attempt. Use the one remaining try now?`,
    );
    if (answer === false) throw new CancelledError(`stopped: the ${pin}'s last try was kept`);
    return answer === true;
  }

  /** Logs in as the user if the token wants it, asking before a PIN's final try. */
  async #login(token: Token, uri: Pkcs11Uri): Promise<void> {
    if (token.isLoggedIn()) return;
    const info = token.info();
    if (!info.loginRequired) return;
    const allowFinalTry = await this.#finalTryConsent(token, 'user');
    try {
      // Say so before asking for a PIN that could not be used anyway.
      if (info.userPin === 'locked') throw errorForCkr('CKR_PIN_LOCKED', token.ctx('log in with the user PIN'));
      const pin = await obtainPin(
        { what: `user PIN of token "${info.label}"`, pinSource: uri.pinSource, pinValue: uri.pinValue, envVar: 'KEYWARD_PIN' },
        this.#ctx.interaction,
        this.#ctx.env,
      );
      try {
        token.login(pin, { allowFinalTry });
        this.#loggedIn.add(token);
      } finally {
        pin.dispose();
      }
    } catch (error) {
      throw this.#withUnblockHint(error, token, uri);
    }
  }

  #keyInfo(key: Pkcs11Key, uri: Pkcs11Uri): KeyInfo {
    const token = key.token.info();
    const attributes = key.privateAttributes();
    return {
      uri: this.#keyUri(key, uri),
      backend: this.scheme,
      label: key.label,
      algorithm: key.algorithm,
      device: `token "${token.label}" (${token.model}, serial ${token.serial})`,
      hasPrivateKey: key.privateKey !== undefined,
      hasCertificate: key.certificate !== undefined,
      nonExtractable: key.privateKey ? attributes.sensitive === true && attributes.extractable === false : undefined,
      details: {
        id: hex(key.id),
        token: token.label,
        serial: token.serial,
        objects: [key.privateKey && 'private', key.publicKey && 'public', key.certificate && 'cert'].filter(Boolean),
        attributes,
      },
    };
  }

  #notFound(uriText: string, token: Token, uri: Pkcs11Uri): NotFoundError {
    const present = findKeys(token);
    const shown = present.slice(0, 10).map((k) => `  ${this.#keyUri(k, uri)}`);
    if (present.length > shown.length) shown.push(`  … and ${present.length - shown.length} more (keyward key list)`);
    return new NotFoundError('KEY_NOT_FOUND', `no key matches ${redactUri(uriText)} on token "${token.label}"`, {
      hint: present.length ? `keys on this token:\n${shown.join('\n')}` : 'the token holds no keys (visible with this PIN)',
    });
  }

  /** Finds the keys a URI names; logs in first if nothing is visible without it. */
  async #findKeys(token: Token, uri: Pkcs11Uri): Promise<Pkcs11Key[]> {
    const filter = keyFilter(uri);
    let keys = findKeys(token, filter);
    if (keys.length === 0 && token.info().loginRequired && !token.isLoggedIn()) {
      await this.#login(token, uri);
      keys = findKeys(token, filter);
    }
    return keys;
  }

  #requireKeySelector(uri: Pkcs11Uri, uriText: string, verb: string): void {
    if (uri.object === undefined && uri.id === undefined) {
      throw new UsageError('KEY_NOT_NAMED', `cannot ${verb}: ${redactUri(uriText)} names a token but no key`, {
        hint: 'add object=<label> or id=<%xx bytes> to the URI (keyward key list shows them)',
      });
    }
  }

  #unique(keys: Pkcs11Key[], uriText: string, token: Token, uri: Pkcs11Uri): Pkcs11Key {
    if (keys.length === 1) return keys[0]!;
    if (keys.length === 0) throw this.#notFound(uriText, token, uri);
    throw new ConflictError('KEY_AMBIGUOUS', `${keys.length} keys match ${redactUri(uriText)}`, {
      hint: `add id= to name one:\n${keys.map((k) => `  ${this.#keyUri(k, uri)}`).join('\n')}`,
    });
  }

  // -- KeystoreBackend ----------------------------------------------------------------------------

  async generate(uriText: string, options: GenerateOptions, origin: UriOrigin): Promise<KeyHandle> {
    const uri = parsePkcs11Uri(uriText);
    if (!uri.object) {
      throw new UsageError('LABEL_REQUIRED', 'a new key needs a label', { hint: 'add object=<label> to the URI, e.g. "pkcs11:token=ca;object=root-2026"' });
    }
    if (uri.type && uri.type !== 'private') {
      throw new UsageError('OBJECT_TYPE_INVALID', `generate makes a key pair; drop type=${uri.type} from the URI`);
    }
    if (options.pinPolicy || options.touchPolicy || options.overwrite) {
      throw new UsageError('POLICY_UNSUPPORTED', 'PIN and touch policies and --overwrite are for YubiKey PIV slots; PKCS#11 tokens do not take them', {
        hint: 'to replace a PKCS#11 key, delete the old one first (keyward key delete)',
      });
    }
    const token = this.#token(uri, uriText, origin);
    await this.#login(token, uri);
    const key = await generateKeyPair(token, { algorithm: options.algorithm, label: uri.object, id: uri.id });
    return new Pkcs11KeyHandle(this, key, this.#keyInfo(key, uri), uri);
  }

  async open(uriText: string, origin: UriOrigin): Promise<KeyHandle> {
    const uri = parsePkcs11Uri(uriText);
    this.#requireKeySelector(uri, uriText, 'open a key');
    const token = this.#token(uri, uriText, origin);
    const key = this.#unique(await this.#findKeys(token, uri), uriText, token, uri);
    return new Pkcs11KeyHandle(this, key, this.#keyInfo(key, uri), uri);
  }

  async list(uriText: string, origin: UriOrigin): Promise<KeyInfo[]> {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#module(uri, origin);
    const tokens = module.tokens().filter((t) => t.info().initialized && this.#matchesToken(t, uri));
    if (tokens.length === 0 && uriText !== 'pkcs11:') this.#token(uri, uriText, origin); // raises TOKEN_NOT_FOUND with hints
    const result: KeyInfo[] = [];
    for (const token of tokens) {
      try {
        await this.#login(token, uri);
      } catch (error) {
        if (!(error instanceof AuthError && error.code === 'PIN_REQUIRED')) throw error;
        this.#ctx.interaction.warn(`no PIN for token "${token.label}": listing its public objects only`);
      }
      result.push(...findKeys(token, keyFilter(uri)).map((k) => this.#keyInfo(k, uri)));
    }
    return result;
  }

  async delete(uriText: string, origin: UriOrigin): Promise<KeyInfo> {
    const uri = parsePkcs11Uri(uriText);
    this.#requireKeySelector(uri, uriText, 'delete a key');
    const token = this.#token(uri, uriText, origin);
    await this.#login(token, uri);
    const key = this.#unique(findKeys(token, { id: uri.id, label: uri.object }), uriText, token, uri);
    const info = this.#keyInfo(key, uri);
    deleteKey(key);
    return info;
  }

  async capabilities(uriText: string, origin: UriOrigin): Promise<Capabilities> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#token(uri, uriText, origin);
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
   * Logs out of the tokens this backend logged in to. PKCS#11 login belongs to the whole process, so
   * this also logs out other keystores in the process that use the same token. Modules stay
   * initialised (C_Initialize is once per process) and are finalised at exit.
   */
  async close(): Promise<void> {
    for (const token of this.#loggedIn) token.logout();
    this.#loggedIn.clear();
  }

  // -- token management (keyward token …) ---------------------------------------------------------

  tokens(uriText = 'pkcs11:', options: { mechanisms?: boolean; includeUninitialized?: boolean } = {}): TokenSummary[] {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#module(uri, OPERATOR);
    return module
      .tokens()
      .filter((t) => (options.includeUninitialized || t.info().initialized) && this.#matchesToken(t, uri))
      .map((t) => {
        const info = t.info();
        return {
          uri: this.#tokenUri(t, uri),
          label: info.label,
          manufacturer: info.manufacturer,
          model: info.model,
          serial: info.serial,
          slotId: info.slotId,
          module: module.path,
          initialized: info.initialized,
          loginRequired: info.loginRequired,
          userPin: info.userPin,
          soPin: info.soPin,
          ...(options.mechanisms ? { mechanisms: [...t.mechanisms()].sort((a, b) => a - b).map(mechanismName) } : {}),
        };
      });
  }

  /** Initialises a new token in a free slot (SoftHSM always has one). */
  initToken(uriText: string, request: InitTokenRequest): TokenSummary {
    const uri = parsePkcs11Uri(uriText);
    const module = this.#module(uri, OPERATOR);
    const existing = module.tokens().filter((t) => t.info().initialized);
    if (existing.some((t) => t.label === request.label)) {
      throw new ConflictError('TOKEN_LABEL_IN_USE', `a token labelled "${request.label}" already exists`, {
        hint: 'choose another label: tokens are found by label, so labels must be unique',
      });
    }
    const free = module.slots().filter((s) => s.tokenPresent && (uri.slotId === undefined || s.slotId === uri.slotId));
    const slot = free.find((s) => !module.tokens().some((t) => t.slot.equals(s.handle) && t.info().initialized));
    if (!slot) {
      throw new ConflictError('NO_FREE_SLOT', 'no slot holds an uninitialised token', {
        hint: 'SoftHSM always offers one; hardware HSMs are initialised with their vendor\'s tools',
      });
    }
    return this.#summary(initializeToken(module, slot.handle, request), uri);
  }

  #summary(token: Token, uri: Pkcs11Uri): TokenSummary {
    return this.tokens(formatPkcs11Uri(this.#tokenUriFields(token, uri)))[0]!;
  }

  /** Sets a new user PIN with the SO PIN (C_InitPIN), which also unblocks a locked PIN. */
  async unblock(uriText: string, soPin: Secret, newPin: Secret): Promise<TokenSummary> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#token(uri, uriText, OPERATOR);
    token.resetUserPin(soPin, newPin, { allowFinalTry: await this.#finalTryConsent(token, 'so') });
    return this.#summary(token, uri);
  }

  /** Changes the user PIN (C_SetPIN); the current PIN comes from the URI's pin-source, KEYWARD_PIN or a prompt. */
  async changePin(uriText: string, newPin: Secret): Promise<TokenSummary> {
    const uri = parsePkcs11Uri(uriText);
    const token = this.#token(uri, uriText, OPERATOR);
    const allowFinalTry = await this.#finalTryConsent(token, 'user');
    const oldPin = await obtainPin(
      { what: `current user PIN of token "${token.label}"`, pinSource: uri.pinSource, pinValue: uri.pinValue, envVar: 'KEYWARD_PIN' },
      this.#ctx.interaction,
      this.#ctx.env,
    );
    try {
      token.changePin(oldPin, newPin, { allowFinalTry });
      this.#loggedIn.add(token);
    } catch (error) {
      throw this.#withUnblockHint(error, token, uri);
    } finally {
      oldPin.dispose();
    }
    return this.#summary(token, uri);
  }

  /** For handles: log in when a private key is first needed, and find it again. */
  async loginAndRefind(key: Pkcs11Key, uri: Pkcs11Uri): Promise<Pkcs11Key> {
    await this.#login(key.token, uri);
    const [found] = findKeys(key.token, key.id.length > 0 ? { id: key.id } : { label: key.label });
    if (!found?.privateKey) {
      throw new UsageError('NOT_A_PRIVATE_KEY', `"${key.label}" has no private key on token "${key.token.label}"; it cannot sign`);
    }
    return found;
  }
}

/** The key objects a URI's path names (RFC 7512 `id`, `object`, `type`). */
function keyFilter(uri: Pkcs11Uri): KeyFilter {
  if (uri.type === 'secret-key' || uri.type === 'data') {
    throw new UsageError('OBJECT_TYPE_UNSUPPORTED', `Keyward works with key pairs and certificates, not type=${uri.type} objects`);
  }
  return { id: uri.id, label: uri.object, kind: uri.type };
}

class Pkcs11KeyHandle implements KeyHandle {
  readonly info: KeyInfo;
  readonly #backend: Pkcs11Backend;
  readonly #uri: Pkcs11Uri;
  #key: Pkcs11Key;

  constructor(backend: Pkcs11Backend, key: Pkcs11Key, info: KeyInfo, uri: Pkcs11Uri) {
    this.#backend = backend;
    this.#key = key;
    this.info = info;
    this.#uri = uri;
  }

  async publicKey(): Promise<Uint8Array> {
    return this.#key.spki();
  }

  async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    let key = this.#key;
    if (!key.privateKey) {
      key = this.#key = await this.#backend.loginAndRefind(key, this.#uri);
    }
    const algorithm = requireAlgorithm(key);
    const info = ALGORITHMS[algorithm];
    if (options.padding && info.family !== 'rsa') {
      throw new UsageError('PADDING_INVALID', `padding applies to RSA keys; "${key.label}" is ${info.title}`);
    }
    const signature = await key.sign(data, {
      hash: options.hash ?? info.defaultHash,
      padding: options.padding,
      saltLength: options.saltLength,
    });
    return info.family === 'ec' && options.format !== 'raw' ? ecdsaRawToDer(signature) : signature;
  }

  async certificate(): Promise<Uint8Array | undefined> {
    return this.#key.certificateDer();
  }

  async setCertificate(der: Uint8Array): Promise<void> {
    const certificate = parseCertificate(der);
    if (!samePublicKey(certificate.publicKey, await this.publicKey())) {
      throw new UsageError('CERTIFICATE_KEY_MISMATCH', `the certificate (${certificate.subject}) is for another key than "${this.#key.label}"`);
    }
    let key = this.#key;
    if (!key.token.isLoggedIn() && key.token.info().loginRequired) key = this.#key = await this.#backend.loginAndRefind(key, this.#uri);
    await storeCertificate(key, Buffer.from(der));
    [this.#key] = findKeys(key.token, { id: key.id });
  }

  async attest(): Promise<never> {
    throw new UsageError('ATTESTATION_UNSUPPORTED', `token "${this.#key.token.label}" offers no key attestation through PKCS#11`, {
      hint: 'attestation is available for YubiKey PIV keys (yubikey: URIs)',
    });
  }
}

function requireAlgorithm(key: Pkcs11Key): KeyAlgorithm {
  if (!key.algorithm) {
    throw new UsageError('KEY_TYPE_UNSUPPORTED', `Keyward cannot use key "${key.label}": its type is not one it supports`);
  }
  return key.algorithm;
}


