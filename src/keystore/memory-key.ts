/**
 * A key held in this process's memory (node:crypto), behind the same KeyHandle interface as keys
 * in devices. For what must not outlive the process (a benchmark's baseline, a short-lived server
 * identity); never for keys that matter: anyone who can read the process can read it.
 */
import { constants, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ALGORITHMS, HASH_BYTES, nodeHashName, type KeyAlgorithm } from '../crypto/algorithms.js';
import { ecdsaRawToDer } from '../crypto/signature-encoding.js';
import { keywardError } from '../errors.js';
import type { Attestation, KeyHandle, KeyInfo, SignOptions } from './backend.js';

function generate(algorithm: KeyAlgorithm): KeyObject {
  const info = ALGORITHMS[algorithm];
  if (info.family === 'ec') return generateKeyPairSync('ec', { namedCurve: info.curve }).privateKey;
  if (info.family === 'rsa') return generateKeyPairSync('rsa', { modulusLength: info.bits }).privateKey;
  return generateKeyPairSync('ed25519').privateKey;
}

export class MemoryKeyHandle implements KeyHandle {
  readonly info: KeyInfo;
  readonly #key: KeyObject;
  readonly #spki: Uint8Array;
  #certificate: Uint8Array | undefined;

  constructor(algorithm: KeyAlgorithm, label = 'in-memory key') {
    this.#key = generate(algorithm);
    this.#spki = new Uint8Array(createPublicKey(this.#key).export({ type: 'spki', format: 'der' }));
    this.info = {
      uri: `memory:${encodeURIComponent(label)}`,
      backend: 'memory',
      label,
      algorithm,
      device: "this process's memory",
      hasPrivateKey: true,
      hasCertificate: false,
      nonExtractable: false,
      details: {},
    };
  }

  async publicKey(): Promise<Uint8Array> {
    return this.#spki;
  }

  async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const info = ALGORITHMS[this.info.algorithm!];
    if (info.family === 'ed25519') return new Uint8Array(sign(null, data, this.#key));
    const hash = options.hash ?? info.defaultHash;
    if (info.family === 'ec') {
      const raw = sign(nodeHashName(hash), data, { key: this.#key, dsaEncoding: 'ieee-p1363' });
      return options.format === 'raw' ? new Uint8Array(raw) : ecdsaRawToDer(raw);
    }
    const pss = options.padding === 'pss';
    return new Uint8Array(
      sign(nodeHashName(hash), data, {
        key: this.#key,
        padding: pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
        ...(pss ? { saltLength: options.saltLength ?? HASH_BYTES[hash] } : {}),
      }),
    );
  }

  async certificate(): Promise<Uint8Array | undefined> {
    return this.#certificate;
  }

  async setCertificate(der: Uint8Array): Promise<void> {
    this.#certificate = der;
  }

  async attest(): Promise<Attestation> {
    throw keywardError('ATTESTATION_UNSUPPORTED', 'a key in memory cannot be attested: nothing vouches for where it was made');
  }
}
