/**
 * The Keystore: one interface over every key Keyward uses, each named by a URI (`pkcs11:`,
 * `yubikey:`); nothing outside src/keystore and src/hsm knows which device holds a key. It picks
 * the backend for a URI's scheme. A backend's module is loaded and the backend created when its
 * scheme is first used, so a process that only uses PKCS#11 never loads the PC/SC code, and one
 * that only uses YubiKeys never loads pkcs11js or the X.509 code that PKCS#11 certificate objects
 * need.
 */
import { algorithmInfo } from '../crypto/algorithms.js';
import type { BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend } from './backend.js';
import { DevicePins } from './device-pins.js';
import { nonInteractive, type Interaction } from './interaction.js';
import { KeyUri } from './uri/origin.js';
import type { Pkcs11Backend } from './pkcs11/backend.js';
import type { Pkcs11Settings } from './pkcs11/resolve.js';
import { KEY_URI_SCHEMES, requireKeyUriScheme, type KeyUriScheme } from './uri/index.js';
import type { AttachedCard, YubiKeySettings } from './yubikey/resolve.js';
import type { YubiKeyBackend } from './yubikey/backend.js';

export interface KeystoreOptions {
  interaction?: Interaction;
  /**
   * Where PINs and settings are read (default: process.env): each device's own
   * KEYWARD_PIN_TOKEN_<serial> or KEYWARD_PIN_YUBIKEY_<serial>, and KEYWARD_PIN, which this keystore
   * gives to one device only (src/keystore/device-pins.ts).
   */
  env?: NodeJS.ProcessEnv;
  /** The PKCS#11 module to use when a URI names none (like `--module`). */
  pkcs11Module?: string;
  /** The allow-list of modules that URIs read from files may name (default /etc/keyward/pkcs11-modules). */
  pkcs11ModuleAllowList?: string;
  /** Spend a PIN's final try without asking (`--allow-final-try`). */
  allowFinalTry?: boolean;
  /** Cards handed in directly, besides PC/SC (the virtual YubiKey in this process). */
  attachedCards?: AttachedCard[];
  /** Attestation roots trusted besides Yubico's (e.g. a virtual YubiKey's). */
  attestationRoots?: Uint8Array[];
  /** Intermediates an attestation may chain through besides Yubico's (they grant no trust alone). */
  attestationIntermediates?: Uint8Array[];
}

/** The backend of each scheme. */
interface Backends {
  pkcs11: Pkcs11Backend;
  yubikey: YubiKeyBackend;
}

export type Scheme = KeyUriScheme;

/** What a scheme's devices offer besides keys (tokens and their PINs; YubiKeys' PIV credentials and reset). */
export type Administration<S extends Scheme> = Backends[S]['administration'];

/** A backend made on first use; `take` hands it over for closing and forgets it. */
class Lazy<T> {
  readonly #make: () => Promise<T>;
  #made: Promise<T> | undefined;

  constructor(make: () => Promise<T>) {
    this.#make = make;
  }

  get(): Promise<T> {
    return (this.#made ??= this.#make());
  }

  take(): Promise<T> | undefined {
    const made = this.#made;
    this.#made = undefined;
    return made;
  }
}

export class Keystore {
  readonly context: BackendContext;
  readonly #pkcs11: Pkcs11Settings;
  readonly #yubikey: YubiKeySettings;
  /** Each backend's module is imported when its scheme is first used. */
  readonly #backends: { [S in Scheme]: Lazy<Backends[S]> } = {
    pkcs11: new Lazy(async () => new (await import('./pkcs11/backend.js')).Pkcs11Backend(this.context, this.#pkcs11)),
    yubikey: new Lazy(async () => new (await import('./yubikey/backend.js')).YubiKeyBackend(this.context, this.#yubikey)),
  };

  constructor(options: KeystoreOptions = {}) {
    const interaction = options.interaction ?? nonInteractive;
    const env = options.env ?? process.env;
    this.context = { interaction, env, allowFinalTry: options.allowFinalTry ?? false, pins: new DevicePins(interaction, env) };
    this.#pkcs11 = { module: options.pkcs11Module, moduleAllowList: options.pkcs11ModuleAllowList };
    this.#yubikey = {
      attachedCards: options.attachedCards ?? [],
      attestationRoots: options.attestationRoots ?? [],
      attestationIntermediates: options.attestationIntermediates ?? [],
    };
  }

  /** The schemes this keystore understands. */
  get schemes(): string[] {
    return [...KEY_URI_SCHEMES];
  }

  /** The backend for a URI's scheme. */
  #backendFor(uri: string): Promise<KeystoreBackend> {
    return this.#backends[requireKeyUriScheme(uri)].get();
  }

  /**
   * What a scheme's devices offer besides keys: `pkcs11` lists and initialises tokens and changes
   * and unblocks their PINs; `yubikey` lists YubiKeys and reaches one's PIN, PUK, retries,
   * management key and reset. Loads only that scheme's backend.
   */
  async administration<S extends Scheme>(scheme: S): Promise<Administration<S>> {
    return (await this.#backends[scheme].get()).administration;
  }

  /**
   * The key a URI names. A plain string is the operator's; a URI read from a file comes as
   * `KeyUri.fromFile(…)` and may not choose a PKCS#11 module the operator has not allowed.
   */
  async open(uri: string | KeyUri): Promise<KeyHandle> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.#backendFor(text)).open(text, origin);
  }

  async generate(uri: string | KeyUri, options: GenerateOptions): Promise<KeyHandle> {
    algorithmInfo(options.algorithm); // refuses an unknown algorithm before any device is touched
    const { text, origin } = KeyUri.of(uri);
    return (await this.#backendFor(text)).generate(text, options, origin);
  }

  async list(uri: string | KeyUri): Promise<KeyInfo[]> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.#backendFor(text)).list(text, origin);
  }

  async delete(uri: string | KeyUri): Promise<KeyInfo> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.#backendFor(text)).delete(text, origin);
  }

  async capabilities(uri: string | KeyUri): Promise<Capabilities> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.#backendFor(text)).capabilities(text, origin);
  }

  /** Releases devices: logs out of tokens this keystore logged in to, closes cards. */
  async close(): Promise<void> {
    const loaded = Object.values(this.#backends).map((backend) => backend.take());
    await Promise.all(loaded.map(async (backend) => (await backend)?.close()));
  }
}
