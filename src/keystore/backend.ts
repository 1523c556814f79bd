/**
 * What a keystore backend implements for its URI scheme, and what it hands out: key handles, key
 * information, capabilities, attestations. Callers see keys only through these types, never the
 * device behind them.
 */
import type { HashName, KeyAlgorithm, RsaPadding } from '../crypto/algorithms.js';
import type { DevicePins } from './device-pins.js';
import type { Interaction } from './interaction.js';
import type { UriOrigin } from './uri/origin.js';

export interface GenerateOptions {
  algorithm: KeyAlgorithm;
  /** PIV: when the card asks for the PIN (never, once per session, always). */
  pinPolicy?: 'never' | 'once' | 'always';
  /** PIV: when the card asks for a touch (never, always, cached for 15 s). */
  touchPolicy?: 'never' | 'always' | 'cached';
  /** PIV: replace a key already in the slot (its old key is destroyed). */
  overwrite?: boolean;
  /**
   * PKCS#11: `wrap` makes a key a backup ceremony can copy to a second token: it may leave the
   * token only wrapped by a key the token's Security Officer marked trusted (CKA_EXTRACTABLE with
   * CKA_WRAP_WITH_TRUSTED). Without it a key never leaves its device. YubiKeys refuse it.
   */
  backup?: 'wrap';
}

export interface SignOptions {
  /** The hash of the data; the key algorithm's usual hash when absent. Ignored by Ed25519. */
  hash?: HashName;
  /** RSA only: PKCS#1 v1.5 (default) or PSS. */
  padding?: RsaPadding;
  /** RSA-PSS salt length; the hash length when absent. */
  saltLength?: number;
  /**
   * ECDSA only: `der` (X.509, OpenSSL, the default) or `raw` r‖s (WebCrypto, JOSE, Notary).
   */
  format?: 'der' | 'raw';
}

export interface KeyInfo {
  /** The URI that names exactly this key; pass it back to open it. */
  uri: string;
  backend: string;
  label: string;
  /** Undefined for key types Keyward lists but cannot use. */
  algorithm: KeyAlgorithm | undefined;
  /** The device holding it, as a person would name it: `token "ca" (SoftHSM v2, serial 1a2b…)`. */
  device: string;
  hasPrivateKey: boolean;
  /** Undefined when not looked at: opening a YubiKey key reads only what using it needs (list() tells). */
  hasCertificate: boolean | undefined;
  /**
   * The private key can never leave the device (PKCS#11: SENSITIVE, not EXTRACTABLE; PIV: always).
   * Undefined when the device did not say.
   */
  nonExtractable: boolean | undefined;
  /** `wrap`: the private key may leave the device only wrapped by a key its Security Officer trusts (GenerateOptions.backup). */
  backup?: 'wrap';
  /** Backend-specific facts (PKCS#11 attributes, PIV slot and policies) for `--json`. */
  details: Record<string, unknown>;
}

export interface Capabilities {
  /** Algorithms this device can generate keys for. */
  algorithms: KeyAlgorithm[];
  /** Can prove that a key was generated on the device. */
  attestation: boolean;
  /** Can require a physical touch per operation. */
  touch: boolean;
}

export interface Attestation {
  /** The attestation certificate for the key (DER), followed by the chain up to (not including) the root. */
  chain: Uint8Array[];
  /** Facts the attestation proves, decoded (firmware, serial, policies, form factor). */
  claims: Record<string, unknown>;
}

/** A key opened from the keystore. */
export interface KeyHandle {
  readonly info: KeyInfo;
  /** SubjectPublicKeyInfo, DER. */
  publicKey(): Promise<Uint8Array>;
  sign(data: Uint8Array, options?: SignOptions): Promise<Uint8Array>;
  /** The X.509 certificate stored with the key (DER), if any. */
  certificate(): Promise<Uint8Array | undefined>;
  /** Stores a certificate with the key; it must be for this key's public key. */
  setCertificate(der: Uint8Array): Promise<void>;
  /** Proof the key was generated in the device. Fails on devices without attestation. */
  attest(): Promise<Attestation>;
}

/**
 * What every backend is made with: the keystore's options that apply to all of them, defaults
 * filled in. A backend's own settings (PKCS#11 modules, attached cards) are its own type, in its
 * directory.
 */
export interface BackendContext {
  interaction: Interaction;
  env: NodeJS.ProcessEnv;
  allowFinalTry: boolean;
  /** Devices' user PINs, shared by the backends: a PIN from the environment goes to one device. */
  pins: DevicePins;
}

/**
 * What a backend implements for its URI scheme. `origin` says who chose the URI: a backend that
 * would load code for a URI (a PKCS#11 module) loads only what the operator allowed when the URI
 * came from a file.
 */
export interface KeystoreBackend {
  readonly scheme: string;
  generate(uri: string, options: GenerateOptions, origin: UriOrigin): Promise<KeyHandle>;
  open(uri: string, origin: UriOrigin): Promise<KeyHandle>;
  /** Keys under a URI that names a device, or every device of the backend when `uri` is just the scheme. */
  list(uri: string, origin: UriOrigin): Promise<KeyInfo[]>;
  /** Deletes exactly one key; returns what it was. */
  delete(uri: string, origin: UriOrigin): Promise<KeyInfo>;
  capabilities(uri: string, origin: UriOrigin): Promise<Capabilities>;
  close(): Promise<void>;
}
