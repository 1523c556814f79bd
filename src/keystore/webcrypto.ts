/**
 * A WebCrypto bridge: a `CryptoKey`-shaped handle for a key in hardware, and a `Crypto` whose
 * `subtle.sign` signs inside the device. Give it to @peculiar/x509 (or any WebCrypto code) and
 * certificates, CSRs and TUF metadata are signed by the token without the code knowing.
 * Everything that needs no private key (verify, digest, import/export of public keys) is done by
 * Node's WebCrypto.
 */
import { webcrypto } from 'node:crypto';
import { ALGORITHMS, HASH_BYTES, parseHashName, type HashName, type KeyAlgorithm } from '../crypto/algorithms.js';
import { keywardError } from '../errors.js';
import type { KeyHandle, SignOptions } from './backend.js';
import { withArticle } from '../words.js';

type SubtleCrypto = webcrypto.SubtleCrypto;
type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams;
/** WebCrypto's BufferSource, spelt out: @types/node 24 and later no longer export `webcrypto.BufferSource`. */
type BufferSource = ArrayBufferView | ArrayBuffer;

/*
 * What this module hands to WebCrypto code (a `Crypto`, a key pair, a `CryptoKey`) is declared with
 * the WebCrypto types of the program that reads these declarations, not with Node's: DOM's when its
 * `lib` has DOM (the default of `tsc --init`), @types/node's otherwise. @types/node declares
 * `globalThis.crypto` so that it is DOM's `Crypto` wherever DOM is loaded, and WebCrypto code such
 * as x509 takes the global types. Declared with Node's `webcrypto` types instead, a `KeywardCrypto`
 * was not assignable to DOM's `Crypto` (whose `generateKey` has overloads Node 20's lacks), nor a
 * key pair to DOM's `CryptoKeyPair` (newer Node types add key usages DOM does not have), in a
 * reader's default project. In this project (no DOM) they are Node's types.
 */
type PlatformCrypto = typeof globalThis.crypto;
type PlatformSubtleCrypto = PlatformCrypto['subtle'];
type PlatformCryptoKey = Awaited<ReturnType<PlatformSubtleCrypto['importKey']>>;

/** How an RSA hardware key presents itself to WebCrypto: as PKCS#1 v1.5 or as PSS. */
export type RsaScheme = 'RSASSA-PKCS1-v1_5' | 'RSA-PSS';

export interface HardwareKeyOptions {
  rsaScheme?: RsaScheme;
  /** Hash bound to RSA keys (WebCrypto binds it at import); the algorithm's default otherwise. */
  hash?: HashName;
}

/** A private key that lives in a device. Not extractable, usable only to sign. */
export class HardwareCryptoKey implements PlatformCryptoKey {
  readonly type = 'private' as const;
  readonly extractable = false;
  readonly usages: PlatformCryptoKey['usages'] = ['sign'];
  readonly algorithm: PlatformCryptoKey['algorithm'];
  readonly handle: KeyHandle;

  constructor(handle: KeyHandle, algorithm: PlatformCryptoKey['algorithm']) {
    this.handle = handle;
    this.algorithm = algorithm;
  }

  get [Symbol.toStringTag](): string {
    return 'CryptoKey';
  }
}

function requireAlgorithm(handle: KeyHandle): KeyAlgorithm {
  if (!handle.info.algorithm) {
    throw keywardError('KEY_TYPE_UNSUPPORTED', `key ${handle.info.uri} has a type WebCrypto code cannot use`);
  }
  return handle.info.algorithm;
}

/** The WebCrypto description of a hardware key and its software public key. */
function webCryptoAlgorithm(
  algorithm: KeyAlgorithm,
  options: HardwareKeyOptions,
): {
  key: webcrypto.KeyAlgorithm;
  import: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
} {
  const info = ALGORITHMS[algorithm];
  switch (info.family) {
    case 'ec':
      return { key: { name: 'ECDSA', namedCurve: info.curve } as webcrypto.EcKeyAlgorithm, import: { name: 'ECDSA', namedCurve: info.curve } };
    case 'ed25519':
      return { key: { name: 'Ed25519' }, import: { name: 'Ed25519' } };
    case 'rsa': {
      const name = options.rsaScheme ?? 'RSASSA-PKCS1-v1_5';
      const hash = options.hash ?? info.defaultHash;
      const key: webcrypto.RsaHashedKeyAlgorithm = {
        name,
        hash: { name: hash },
        modulusLength: info.bits,
        publicExponent: new Uint8Array([1, 0, 1]),
      };
      return { key, import: { name, hash } };
    }
  }
}

/** A `CryptoKeyPair` whose private half is in a device. */
export interface HardwareKeyPair {
  privateKey: HardwareCryptoKey;
  publicKey: PlatformCryptoKey;
}

/**
 * A key pair for WebCrypto code: the private half signs in the device, the public half is an
 * ordinary (software) public key imported from the device's SPKI.
 */
export async function hardwareKeyPair(handle: KeyHandle, options: HardwareKeyOptions = {}): Promise<HardwareKeyPair> {
  const algorithm = requireAlgorithm(handle);
  const described = webCryptoAlgorithm(algorithm, options);
  const spki = await handle.publicKey();
  const publicKey = await webcrypto.subtle.importKey('spki', spki, described.import, true, ['verify']);
  return { privateKey: new HardwareCryptoKey(handle, described.key), publicKey };
}

function hashOf(value: unknown): HashName | undefined {
  if (value === undefined) return undefined;
  const name = typeof value === 'string' ? value : (value as { name?: string }).name;
  return name ? parseHashName(name) : undefined;
}

function isHardwareKey(key: unknown): key is HardwareCryptoKey {
  return key instanceof HardwareCryptoKey;
}

function refuseHardwareKey(key: unknown, operation: string): void {
  if (isHardwareKey(key)) {
    throw keywardError('HARDWARE_KEY_OPERATION', `${operation} is not possible with a key held in hardware (${key.handle.info.uri})`, {
      hint: 'hardware keys only sign; they never leave the device',
    });
  }
}

/** Maps a WebCrypto sign call to keystore sign options, checking that the algorithm fits the key. */
export function signOptionsFor(algorithm: Algorithm, key: HardwareCryptoKey): SignOptions {
  const params = (typeof algorithm === 'string' ? { name: algorithm } : algorithm) as { name: string; hash?: unknown; saltLength?: number };
  const name = params.name.toUpperCase();
  const keyName = key.algorithm.name.toUpperCase();
  const keyHash = hashOf((key.algorithm as Partial<webcrypto.RsaHashedKeyAlgorithm>).hash);
  const mismatch = () =>
    keywardError('ALGORITHM_MISMATCH', `cannot sign with ${params.name}: the key in ${key.handle.info.uri} is ${withArticle(`${key.algorithm.name} key`)}`);
  switch (name) {
    case 'ECDSA':
      if (keyName !== 'ECDSA') throw mismatch();
      return { hash: hashOf(params.hash) ?? ALGORITHMS[requireAlgorithm(key.handle)].defaultHash, format: 'raw' };
    case 'RSASSA-PKCS1-V1_5':
      if (!keyName.startsWith('RSA')) throw mismatch();
      return { hash: hashOf(params.hash) ?? keyHash, padding: 'pkcs1' };
    case 'RSA-PSS': {
      if (!keyName.startsWith('RSA')) throw mismatch();
      const hash = hashOf(params.hash) ?? keyHash ?? 'SHA-256';
      return { hash, padding: 'pss', saltLength: params.saltLength ?? HASH_BYTES[hash] };
    }
    case 'ED25519':
    case 'EDDSA':
      if (keyName !== 'ED25519') throw mismatch();
      return {};
    default:
      throw mismatch();
  }
}

/**
 * SubtleCrypto that signs with hardware keys and leaves everything else to Node's WebCrypto.
 * Operations that would need a hardware key's private bytes are refused with a clear error.
 */
export class KeywardSubtleCrypto {
  readonly #software: SubtleCrypto;

  constructor(software: SubtleCrypto = webcrypto.subtle) {
    this.#software = software;
  }

  async sign(algorithm: Algorithm, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    if (!isHardwareKey(key)) return this.#software.sign(algorithm, key, data);
    const signature = await key.handle.sign(toBytes(data), signOptionsFor(algorithm, key));
    return toArrayBuffer(signature);
  }

  verify(algorithm: Algorithm, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean> {
    refuseHardwareKey(key, 'verifying with a private key');
    return this.#software.verify(algorithm, key, signature, data);
  }

  digest(algorithm: webcrypto.AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> {
    return this.#software.digest(algorithm, data);
  }

  exportKey(format: 'jwk', key: CryptoKey): Promise<webcrypto.JsonWebKey>;
  exportKey(format: Exclude<webcrypto.KeyFormat, 'jwk'>, key: CryptoKey): Promise<ArrayBuffer>;
  exportKey(format: webcrypto.KeyFormat, key: CryptoKey): Promise<ArrayBuffer | webcrypto.JsonWebKey> {
    refuseHardwareKey(key, 'exporting');
    return this.#software.exportKey(format as 'jwk', key);
  }

  importKey(...args: Parameters<SubtleCrypto['importKey']>): Promise<CryptoKey> {
    return (this.#software.importKey as (...a: unknown[]) => Promise<CryptoKey>)(...args);
  }

  generateKey(...args: Parameters<SubtleCrypto['generateKey']>): ReturnType<SubtleCrypto['generateKey']> {
    return (this.#software.generateKey as (...a: unknown[]) => ReturnType<SubtleCrypto['generateKey']>)(...args);
  }

  encrypt(...args: Parameters<SubtleCrypto['encrypt']>): Promise<ArrayBuffer> {
    refuseHardwareKey(args[1], 'encrypting');
    return this.#software.encrypt(...args);
  }

  decrypt(...args: Parameters<SubtleCrypto['decrypt']>): Promise<ArrayBuffer> {
    refuseHardwareKey(args[1], 'decrypting');
    return this.#software.decrypt(...args);
  }

  deriveBits(...args: Parameters<SubtleCrypto['deriveBits']>): Promise<ArrayBuffer> {
    refuseHardwareKey(args[1], 'deriving');
    return this.#software.deriveBits(...args);
  }

  deriveKey(...args: Parameters<SubtleCrypto['deriveKey']>): Promise<CryptoKey> {
    refuseHardwareKey(args[1], 'deriving');
    return this.#software.deriveKey(...args);
  }

  wrapKey(...args: Parameters<SubtleCrypto['wrapKey']>): Promise<ArrayBuffer> {
    refuseHardwareKey(args[1], 'wrapping');
    refuseHardwareKey(args[2], 'wrapping');
    return this.#software.wrapKey(...args);
  }

  unwrapKey(...args: Parameters<SubtleCrypto['unwrapKey']>): Promise<CryptoKey> {
    refuseHardwareKey(args[2], 'unwrapping');
    return this.#software.unwrapKey(...args);
  }
}

/**
 * A `KeywardCrypto` is the reader's `Crypto` (declaration merging): whatever members that type has
 * there, it has. Node's type also lists a `CryptoKey` that Node's own `webcrypto` object does not
 * have at run time; neither has this one.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging -- the merge is the point: every member the reader's Crypto declares
export interface KeywardCrypto extends PlatformCrypto {}

/** A `Crypto` for WebCrypto code (x509's `crypto` argument): hardware signing, software everything else. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface above
export class KeywardCrypto {
  readonly subtle: PlatformSubtleCrypto;
  readonly getRandomValues: PlatformCrypto['getRandomValues'] = (array) => webcrypto.getRandomValues(array);
  readonly randomUUID: PlatformCrypto['randomUUID'] = () => webcrypto.randomUUID();

  /** `software` does everything but signing with hardware keys (Node's WebCrypto by default). */
  constructor(software: PlatformSubtleCrypto = webcrypto.subtle) {
    this.subtle = new KeywardSubtleCrypto(software as SubtleCrypto) as unknown as PlatformSubtleCrypto;
  }
}

function toBytes(data: BufferSource): Uint8Array {
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
