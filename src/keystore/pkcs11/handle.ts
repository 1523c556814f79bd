/** A key on a PKCS#11 token as a KeyHandle: logs in when its private key is first needed. */
import { ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { ecdsaRawToDer } from '../../crypto/signature-encoding.js';
import { KeywardError, keywardError } from '../../errors.js';
import { findKeys, storeCertificate, type Pkcs11Key } from '../../hsm/pkcs11/keys.js';
import { parseCertificate } from '../../x509/certificate.js';
import { samePublicKey } from '../../x509/public-key.js';
import type { KeyHandle, KeyInfo, SignOptions } from '../backend.js';
import type { Pkcs11Uri } from '../uri/index.js';
import type { TokenLogins } from './login.js';

export class Pkcs11KeyHandle implements KeyHandle {
  readonly info: KeyInfo;
  readonly #logins: TokenLogins;
  readonly #uri: Pkcs11Uri;
  #key: Pkcs11Key;

  constructor(logins: TokenLogins, key: Pkcs11Key, info: KeyInfo, uri: Pkcs11Uri) {
    this.#logins = logins;
    this.#key = key;
    this.info = info;
    this.#uri = uri;
  }

  /** Logs in, then finds the key again: the private key object is visible only after login. */
  async #loginAndRefind(): Promise<Pkcs11Key> {
    const key = this.#key;
    await this.#logins.login(key.token, this.#uri);
    const [found] = findKeys(key.token, key.id.length > 0 ? { id: key.id } : { label: key.label });
    if (!found?.privateKey) {
      throw keywardError('NOT_A_PRIVATE_KEY', `"${key.label}" has no private key on token "${key.token.label}"; it cannot sign`);
    }
    this.#key = found;
    return found;
  }

  async publicKey(): Promise<Uint8Array> {
    return this.#key.spki();
  }

  async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const key = this.#key.privateKey ? this.#key : await this.#loginAndRefind();
    const algorithm = requireAlgorithm(key);
    const info = ALGORITHMS[algorithm];
    if (options.padding && info.family !== 'rsa') {
      throw keywardError('PADDING_INVALID', `padding applies to RSA keys; "${key.label}" is ${info.title}`);
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
      throw keywardError('CERTIFICATE_KEY_MISMATCH', `the certificate (${certificate.subject}) is for another key than "${this.#key.label}"`);
    }
    // A certificate is a public object, which a read/write session may store without a login (PKCS#11's
    // "R/W Public Session"): log in only if the token asks, for SoftHSM rewrites its token.object at
    // every login.
    let key = this.#key;
    try {
      await storeCertificate(key, Buffer.from(der));
    } catch (error) {
      if (!(error instanceof KeywardError && error.code === 'LOGIN_REQUIRED')) throw error;
      key = await this.#loginAndRefind();
      await storeCertificate(key, Buffer.from(der));
    }
    [this.#key] = findKeys(key.token, { id: key.id });
  }

  async attest(): Promise<never> {
    throw keywardError('ATTESTATION_UNSUPPORTED', `token "${this.#key.token.label}" offers no key attestation through PKCS#11`, {
      hint: 'attestation is available for YubiKey PIV keys (yubikey: URIs)',
    });
  }
}

function requireAlgorithm(key: Pkcs11Key): KeyAlgorithm {
  if (!key.algorithm) {
    throw keywardError('KEY_TYPE_UNSUPPORTED', `Keyward cannot use key "${key.label}": its type is not one it supports`);
  }
  return key.algorithm;
}
