/**
 * The Keystore: one interface over every key Keyward uses, each named by a URI (`pkcs11:`,
 * `yubikey:`); nothing outside src/keystore and src/hsm knows which device holds a key. It picks
 * the backend for a URI's scheme. A backend's module is loaded and the
 * backend created when a URI of its scheme is first used, so a process that only uses PKCS#11
 * never loads the PC/SC code, and one that only uses YubiKeys never loads pkcs11js or the X.509
 * code that PKCS#11 certificate objects need.
 */
import { algorithmInfo } from '../crypto/algorithms.js';
import { UsageError } from '../errors.js';
import type { AttachedCard } from './backends/yubikey.js';
import { nonInteractive, type Interaction } from './interaction.js';
import { KeyUri } from './key-uri.js';
import type { BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend } from './backend.js';
import { redactUri, uriScheme } from './uri.js';

export interface KeystoreOptions {
  interaction?: Interaction;
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

export type BackendFactory = (context: BackendContext) => KeystoreBackend | Promise<KeystoreBackend>;

const defaultBackends: Record<string, BackendFactory> = {
  pkcs11: async (context) => new (await import('./backends/pkcs11.js')).Pkcs11Backend(context),
  yubikey: async (context) => new (await import('./backends/yubikey.js')).YubiKeyBackend(context),
};

export class Keystore {
  readonly context: BackendContext;
  readonly #factories: Record<string, BackendFactory>;
  readonly #backends = new Map<string, Promise<KeystoreBackend>>();

  constructor(options: KeystoreOptions = {}, factories: Record<string, BackendFactory> = defaultBackends) {
    this.context = {
      interaction: options.interaction ?? nonInteractive,
      env: options.env ?? process.env,
      pkcs11Module: options.pkcs11Module,
      pkcs11ModuleAllowList: options.pkcs11ModuleAllowList,
      allowFinalTry: options.allowFinalTry ?? false,
      attachedCards: options.attachedCards ?? [],
      attestationRoots: options.attestationRoots ?? [],
      attestationIntermediates: options.attestationIntermediates ?? [],
    };
    this.#factories = factories;
  }

  /** The schemes this keystore understands. */
  get schemes(): string[] {
    return Object.keys(this.#factories);
  }

  /** The backend for a URI's scheme, its module loaded on first use. */
  async backend(uri: string): Promise<KeystoreBackend> {
    const scheme = uriScheme(uri);
    const factory = scheme ? this.#factories[scheme] : undefined;
    if (!scheme || !factory) {
      throw new UsageError('URI_SCHEME_UNSUPPORTED', scheme ? `no keystore backend for "${scheme}:" URIs` : `"${redactUri(uri)}" is not a key URI`, {
        hint: `key URIs start with ${this.schemes.map((s) => `"${s}:"`).join(' or ')}, e.g. "pkcs11:token=ca;object=root"`,
      });
    }
    let backend = this.#backends.get(scheme);
    if (!backend) {
      backend = Promise.resolve(factory(this.context));
      this.#backends.set(scheme, backend);
    }
    return backend;
  }

  /**
   * The key a URI names. A plain string is the operator's; a URI read from a file comes as
   * `KeyUri.fromFile(…)` and may not choose a PKCS#11 module the operator has not allowed.
   */
  async open(uri: string | KeyUri): Promise<KeyHandle> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.backend(text)).open(text, origin);
  }

  async generate(uri: string | KeyUri, options: GenerateOptions): Promise<KeyHandle> {
    algorithmInfo(options.algorithm); // refuses an unknown algorithm before any device is touched
    const { text, origin } = KeyUri.of(uri);
    return (await this.backend(text)).generate(text, options, origin);
  }

  async list(uri: string | KeyUri): Promise<KeyInfo[]> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.backend(text)).list(text, origin);
  }

  async delete(uri: string | KeyUri): Promise<KeyInfo> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.backend(text)).delete(text, origin);
  }

  async capabilities(uri: string | KeyUri): Promise<Capabilities> {
    const { text, origin } = KeyUri.of(uri);
    return (await this.backend(text)).capabilities(text, origin);
  }

  /** Releases devices: logs out of tokens this keystore logged in to, closes cards. */
  async close(): Promise<void> {
    const backends = [...this.#backends.values()];
    this.#backends.clear();
    await Promise.all(backends.map(async (b) => (await b).close()));
  }
}
