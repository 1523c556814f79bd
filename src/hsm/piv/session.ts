/**
 * A session with a YubiKey's PIV application: the operations a keystore needs, with the safety
 * rules around them. PIN retries are read before every VERIFY, a PIN is never retried by the
 * driver, the last try is never spent without consent, and credentials are asked for only when
 * the card needs them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, type KeyObject } from 'node:crypto';
import { ALGORITHMS, algorithmOfKey, type HashName, type KeyAlgorithm, type RsaPadding } from '../../crypto/algorithms.js';
import { emsaPkcs1v15, emsaPss } from '../../crypto/rsa-padding.js';
import { hashBytes } from '../../crypto/signature-encoding.js';
import { ecSpki, rsaSpki } from '../../crypto/spki.js';
import { keywardError } from '../../errors.js';
import { Secret } from '../../secret.js';
import { decodeCertificateObject, encodeCertificateObject } from './certificates.js';
import { PivChannel, type ChannelOptions } from './channel.js';
import * as piv from './commands.js';
import { CardResponseError, PinIncorrectError } from './errors.js';
import { keyAlgorithmOf, requireAlgorithmSupport, supportedAlgorithms } from './key-algorithms.js';
import { decryptBlock, encryptBlock } from './management-key.js';
import {
  ALGORITHM,
  defaultPinPolicy,
  formatVersion,
  hasFeature,
  KEY_ORIGIN,
  KEY_REFERENCE,
  MANAGEMENT_KEY_ALGORITHMS,
  managementKeyAlgorithmById,
  OBJECT,
  PIN_POLICY,
  pinPolicyName,
  SLOTS,
  TAG,
  TOUCH_POLICY,
  touchPolicyName,
  type ManagementKeyAlgorithm,
  type PinPolicy,
  type TouchPolicy,
  type Version,
} from './spec.js';
import { concat, tlv } from './tlv.js';
import type { CardTransport } from './transport/transport.js';
import * as yubico from './yubico.js';
import { withArticle } from '../../words.js';

export interface PinStatus {
  /** Tries left before the PIN blocks (cards before 5.3 do not say while the PIN is verified). */
  retriesLeft?: number;
  /** The configured number of tries (5.3+). */
  totalRetries?: number;
  /** Verified in this card session. */
  verified: boolean;
  /** Still the factory default (5.3+). */
  isDefault?: boolean;
}

export interface ManagementKeyInfo {
  algorithm: ManagementKeyAlgorithm;
  isDefault?: boolean;
  requiresTouch?: boolean;
}

export interface SlotInfo {
  slot: string;
  /** Undefined for key types Keyward does not use (RSA 1024, X25519). */
  algorithm: KeyAlgorithm | undefined;
  pinPolicy?: PinPolicy;
  touchPolicy?: TouchPolicy;
  origin?: 'generated' | 'imported';
  /** SubjectPublicKeyInfo DER. */
  publicKey?: Uint8Array;
}

export type FactoryCredential = 'PIN' | 'PUK' | 'management key';

/** What to tell a person whose card still has factory credentials (yubikey info, doctor, key generation). */
export function factoryDefaultsWarning(device: string, defaults: FactoryCredential[]): { message: string; hint: string } {
  return {
    message: `${device} still uses the factory ${defaults.join(', ')}: anyone holding it can use or replace its keys`,
    hint: `change ${defaults.length > 1 ? 'them' : 'it'}: keyward yubikey pin change / puk change / management-key set`,
  };
}

/** Where the session gets secrets when the card needs them; supplied by the keystore or CLI. */
export interface PivCredentials {
  pin(status: PinStatus): Promise<Secret>;
  puk?(): Promise<Secret>;
  managementKey(info: ManagementKeyInfo): Promise<Uint8Array>;
  /** Asked before spending a PIN's or PUK's last try. False or a refusal keeps the try. */
  confirmFinalTry(credential: 'PIN' | 'PUK'): Promise<boolean>;
}

export interface SignRequest {
  hash: HashName;
  padding?: RsaPadding;
  saltLength?: number;
}

export interface PivSessionOptions extends ChannelOptions {
  credentials?: PivCredentials;
}

const noCredentials: PivCredentials = {
  pin: async () => {
    throw keywardError('PIN_REQUIRED', 'the YubiKey needs its PIN and no PIN source was given');
  },
  managementKey: async () => {
    throw keywardError('MANAGEMENT_KEY_REQUIRED', 'the YubiKey needs its management key and none was given');
  },
  confirmFinalTry: async () => false,
};

export function slotId(slot: string | number): number {
  if (typeof slot === 'number') return slot;
  const info = SLOTS[slot.toLowerCase()];
  if (!info || info.id === 0xf9) {
    throw keywardError('SLOT_INVALID', `"${slot}" is not a PIV key slot`, {
      hint: 'slots are 9a (authentication), 9c (signature), 9d (key management), 9e (card authentication) and 82–95 (retired)',
    });
  }
  return info.id;
}

function certificateObjectOf(slot: number): number {
  const entry = Object.values(SLOTS).find((s) => s.id === slot);
  if (!entry) throw keywardError('SLOT_INVALID', `0x${slot.toString(16)} is not a PIV key slot`);
  return entry.object;
}

export class PivSession {
  readonly channel: PivChannel;
  readonly version: Version;
  readonly serial: number | undefined;
  readonly #credentials: PivCredentials;
  /** The PIN last verified, kept only to verify it again where the card wants it (policy "always", after a power cycle). */
  #pin: Secret | undefined;
  readonly #span = new AsyncLocalStorage<{ pinVerified: boolean }>();

  private constructor(channel: PivChannel, version: Version, serial: number | undefined, credentials: PivCredentials) {
    this.channel = channel;
    this.version = version;
    this.serial = serial;
    this.#credentials = credentials;
  }

  /**
   * Selects the PIV application and reads version and serial. `first`, if given, is the session's
   * first operation, run while the card is still held for opening: a caller that goes on to read
   * the card saves a hold of the card and a SELECT.
   */
  static async open(transport: CardTransport, options: PivSessionOptions = {}, first?: (session: PivSession) => Promise<void>): Promise<PivSession> {
    const channel = new PivChannel(transport, options);
    return channel.exclusive(async () => {
      await piv.select(channel);
      const version = await yubico.getVersion(channel);
      const serial = hasFeature(version, 'serial') ? await yubico.getSerial(channel) : undefined;
      const session = new PivSession(channel, version, serial, options.credentials ?? noCredentials);
      channel.options.device ??= session.device;
      if (first) await session.#span.run({ pinVerified: false }, () => first(session));
      return session;
    });
  }

  /** How the device is named in messages. */
  get device(): string {
    return `YubiKey ${this.serial ?? '(no serial)'} (firmware ${formatVersion(this.version)})`;
  }

  get supports(): { metadata: boolean; aesManagementKey: boolean; deleteKey: boolean; algorithms: KeyAlgorithm[] } {
    return {
      metadata: hasFeature(this.version, 'metadata'),
      aesManagementKey: hasFeature(this.version, 'aesManagementKey'),
      deleteKey: hasFeature(this.version, 'moveKey'),
      algorithms: supportedAlgorithms(this.version),
    };
  }

  /**
   * Runs a multi-APDU operation with the card held exclusively. It starts by selecting PIV again:
   * between operations the reader may have powered the card down or another program selected
   * another application. Inside one operation nobody else reaches the card, so a PIN verified
   * there stays verified.
   */
  op<T>(work: () => Promise<T>): Promise<T> {
    if (this.#span.getStore()) return work();
    return this.channel.exclusive(() =>
      this.#span.run({ pinVerified: false }, async () => {
        await piv.select(this.channel);
        return work();
      }),
    );
  }

  // -- PIN and PUK ------------------------------------------------------------------------------

  async pinStatus(): Promise<PinStatus> {
    return this.op(async () => {
      const status = await piv.verifyStatus(this.channel);
      const metadata = this.supports.metadata ? await yubico.getMetadata(this.channel, KEY_REFERENCE.PIN) : undefined;
      return {
        verified: status.verified,
        retriesLeft: metadata?.retries?.remaining ?? (status.verified ? undefined : status.retriesLeft),
        totalRetries: metadata?.retries?.total,
        isDefault: metadata?.isDefault,
      };
    });
  }

  async pukStatus(): Promise<{ retriesLeft?: number; totalRetries?: number; isDefault?: boolean }> {
    if (!this.supports.metadata) return {};
    const metadata = await this.op(() => yubico.getMetadata(this.channel, KEY_REFERENCE.PUK));
    return { retriesLeft: metadata?.retries?.remaining, totalRetries: metadata?.retries?.total, isDefault: metadata?.isDefault };
  }

  /**
   * The credentials still at their factory values (PIN 123456, PUK 12345678, the published
   * management key), read in one operation. Cards before 5.3 cannot tell: none are listed.
   */
  async factoryDefaults(): Promise<FactoryCredential[]> {
    if (!this.supports.metadata) return [];
    return this.op(async () => {
      const defaults: FactoryCredential[] = [];
      for (const [credential, reference] of [
        ['PIN', KEY_REFERENCE.PIN],
        ['PUK', KEY_REFERENCE.PUK],
        ['management key', KEY_REFERENCE.MANAGEMENT_KEY],
      ] as const) {
        if ((await yubico.getMetadata(this.channel, reference))?.isDefault) defaults.push(credential);
      }
      return defaults;
    });
  }

  /** Refuses a blocked credential, and a last try unless the person agrees. */
  async #guardRetries(credential: 'PIN' | 'PUK', retriesLeft: number | undefined): Promise<void> {
    if (retriesLeft === 0) throw new PinIncorrectError({ operation: `use the ${credential}`, credential, device: this.device }, 0);
    if (retriesLeft === 1 && !(await this.#credentials.confirmFinalTry(credential))) {
      throw keywardError(credential === 'PUK' ? 'PUK_FINAL_TRY' : 'PIN_FINAL_TRY', `the ${credential} of ${this.device} has one try left before it blocks`, {
        hint: 'Keyward will not spend the last try without your confirmation: confirm at the prompt, or pass --allow-final-try if you are sure',
        details: { retriesLeft },
      });
    }
  }

  /** VERIFY with the PIN: retries read first, never retried, last try only with consent. */
  async verifyPin(pin: Secret): Promise<void> {
    await this.op(async () => this.#verify(pin, await piv.verifyStatus(this.channel)));
  }

  async #verify(pin: Secret, status: piv.VerifyStatus): Promise<void> {
    await this.#guardRetries('PIN', status.verified ? undefined : status.retriesLeft);
    this.#forgetPin();
    await piv.verify(this.channel, pin.revealBytes(), { operation: 'verify the PIN', device: this.device });
    this.#pin = Secret.fromBytes(pin.revealBytes());
    const span = this.#span.getStore();
    if (span) span.pinVerified = true;
  }

  #forgetPin(): void {
    this.#pin?.dispose();
    this.#pin = undefined;
  }

  /** Makes sure the PIN is verified, asking the credentials for it only if the card needs it. */
  async #ensurePin(policy: PinPolicy): Promise<void> {
    if (policy === 'never') return;
    // Verified earlier in this operation: the counter is known to be full, no need to ask the card.
    const status: piv.VerifyStatus = this.#span.getStore()?.pinVerified ? { verified: true } : await piv.verifyStatus(this.channel);
    if (policy === 'once' && status.verified) return;
    // "always" needs a VERIFY right before the operation: reuse the PIN verified earlier this session.
    const pin = this.#pin
      ? Secret.fromBytes(this.#pin.revealBytes())
      : await this.#credentials.pin({ verified: status.verified, retriesLeft: status.verified ? undefined : status.retriesLeft });
    try {
      await this.#verify(pin, status);
    } finally {
      pin.dispose();
    }
  }

  async changePin(current: Secret, next: Secret): Promise<void> {
    await this.op(async () => {
      const status = await piv.verifyStatus(this.channel);
      await this.#guardRetries('PIN', status.verified ? undefined : status.retriesLeft);
      await piv.changeReferenceData(this.channel, 'PIN', current.revealBytes(), next.revealBytes());
      this.#forgetPin();
    });
  }

  async changePuk(current: Secret, next: Secret): Promise<void> {
    await this.op(async () => {
      await this.#guardRetries('PUK', (await this.pukStatus()).retriesLeft);
      await piv.changeReferenceData(this.channel, 'PUK', current.revealBytes(), next.revealBytes());
    });
  }

  /** RESET RETRY COUNTER: a new PIN with the PUK. */
  async unblockPin(puk: Secret, newPin: Secret): Promise<void> {
    await this.op(async () => {
      await this.#guardRetries('PUK', (await this.pukStatus()).retriesLeft);
      await piv.resetRetryCounter(this.channel, puk.revealBytes(), newPin.revealBytes());
      this.#forgetPin();
    });
  }

  /** Sets PIN and PUK tries; the card then resets both to their factory defaults. */
  async setPinRetries(pinTries: number, pukTries: number): Promise<void> {
    for (const [what, n] of [
      ['PIN', pinTries],
      ['PUK', pukTries],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 255) throw keywardError('RETRIES_INVALID', `${what} tries must be 1 to 255, got ${n}`);
    }
    await this.op(async () => {
      await this.#authenticate();
      await this.#ensurePin('once');
      await yubico.setPinRetries(this.channel, pinTries, pukTries);
      this.#forgetPin();
    });
  }

  // -- management key ---------------------------------------------------------------------------

  async managementKeyInfo(): Promise<ManagementKeyInfo> {
    if (!this.supports.metadata) return { algorithm: 'tdes' };
    const metadata = await this.op(() => yubico.getMetadata(this.channel, KEY_REFERENCE.MANAGEMENT_KEY));
    return {
      algorithm: managementKeyAlgorithmById(metadata?.algorithm ?? ALGORITHM.TDES) ?? 'tdes',
      isDefault: metadata?.isDefault,
      requiresTouch: metadata?.touchPolicy === TOUCH_POLICY.always,
    };
  }

  /** Mutual authentication with the management key (SP 800-73-4 Part 2 Appendix A.1 style witness). */
  async #authenticate(): Promise<void> {
    const info = await this.managementKeyInfo();
    const key = await this.#credentials.managementKey(info);
    const { id, blockLength } = MANAGEMENT_KEY_ALGORITHMS[info.algorithm];
    const ctx = { operation: 'authenticate with the management key', credential: 'management key' as const, mayNeedTouch: info.requiresTouch !== false };
    const witnessResponse = await piv.generalAuthenticate(this.channel, id, KEY_REFERENCE.MANAGEMENT_KEY, tlv(TAG.WITNESS, new Uint8Array()), ctx);
    const witness = witnessResponse.get(TAG.WITNESS);
    if (!witness || witness.length !== blockLength) throw new CardResponseError("the card's management key witness is malformed");
    const challenge = randomBytes(blockLength);
    const response = await piv.generalAuthenticate(
      this.channel,
      id,
      KEY_REFERENCE.MANAGEMENT_KEY,
      concat(tlv(TAG.WITNESS, decryptBlock(info.algorithm, key, witness)), tlv(TAG.CHALLENGE, challenge)),
      ctx,
    );
    const expected = encryptBlock(info.algorithm, key, challenge);
    const answer = response.get(TAG.RESPONSE);
    if (!answer || !Buffer.from(answer).equals(Buffer.from(expected))) {
      throw keywardError('CARD_NOT_AUTHENTIC', `${this.device} answered the management key challenge wrongly: it does not hold the same key`, {
        hint: 'a card that accepts your key but cannot prove it holds it may not be the card you think',
      });
    }
  }

  /** Authenticates with the current management key, then sets a new one. */
  async setManagementKey(key: Uint8Array, algorithm: ManagementKeyAlgorithm, options: { requireTouch?: boolean } = {}): Promise<void> {
    if (algorithm !== 'tdes' && !this.supports.aesManagementKey) {
      throw keywardError('PIV_UNSUPPORTED', `AES management keys need firmware 5.4 or later; ${this.device} has ${formatVersion(this.version)}`);
    }
    if (key.length !== MANAGEMENT_KEY_ALGORITHMS[algorithm].keyLength) {
      throw keywardError(
        'MANAGEMENT_KEY_LENGTH',
        `${withArticle(`${algorithm.toUpperCase()} management key`)} has ${MANAGEMENT_KEY_ALGORITHMS[algorithm].keyLength} bytes`,
      );
    }
    await this.op(async () => {
      await this.#authenticate();
      await yubico.setManagementKey(this.channel, MANAGEMENT_KEY_ALGORITHMS[algorithm].id, key, options.requireTouch ?? false);
    });
  }

  // -- keys -------------------------------------------------------------------------------------

  #publicKeySpki(algorithm: KeyAlgorithm, template: Map<number, Uint8Array>): Uint8Array {
    try {
      if (ALGORITHMS[algorithm].family === 'rsa') {
        const n = template.get(TAG.RSA_MODULUS);
        const e = template.get(TAG.RSA_EXPONENT);
        if (!n || !e) throw new Error('modulus or exponent missing');
        return rsaSpki(Buffer.from(n), Buffer.from(e));
      }
      const point = template.get(TAG.EC_POINT);
      if (!point) throw new Error('point missing');
      return ecSpki(algorithm, Buffer.from(point));
    } catch (cause) {
      throw new CardResponseError(`the public key ${this.device} returned is malformed`, { cause });
    }
  }

  /** Slot metadata (5.3+); undefined for an empty slot or older firmware. */
  async slotInfo(slot: number): Promise<SlotInfo | undefined> {
    if (!this.supports.metadata) return undefined;
    const metadata = await this.op(() => yubico.getMetadata(this.channel, slot));
    if (!metadata) return undefined;
    const algorithm = keyAlgorithmOf(metadata.algorithm ?? 0);
    return {
      slot: slot.toString(16),
      algorithm,
      pinPolicy: pinPolicyName(metadata.pinPolicy ?? 0),
      touchPolicy: touchPolicyName(metadata.touchPolicy ?? 0),
      origin: metadata.origin === KEY_ORIGIN.generated ? 'generated' : metadata.origin === KEY_ORIGIN.imported ? 'imported' : undefined,
      publicKey: algorithm && metadata.publicKey ? this.#publicKeySpki(algorithm, metadata.publicKey) : undefined,
    };
  }

  /** Generates a key pair in the slot (needs the management key); returns the public key (SPKI DER). */
  async generateKey(slot: number, algorithm: KeyAlgorithm, policies: { pinPolicy?: PinPolicy; touchPolicy?: TouchPolicy } = {}): Promise<Uint8Array> {
    const id = requireAlgorithmSupport(algorithm, this.version);
    return this.op(async () => {
      await this.#authenticate();
      const template = await piv.generateAsymmetricKeyPair(
        this.channel,
        slot,
        id,
        { pin: policies.pinPolicy ? PIN_POLICY[policies.pinPolicy] : undefined, touch: policies.touchPolicy ? TOUCH_POLICY[policies.touchPolicy] : undefined },
        { operation: `generate ${withArticle(`${ALGORITHMS[algorithm].title} key`)} in slot ${slot.toString(16)}` },
      );
      return this.#publicKeySpki(algorithm, template);
    });
  }

  /** The block the card signs: a hash fitted to the curve (ECDSA), a padded block (RSA), the message (Ed25519). */
  #signatureInput(algorithm: KeyAlgorithm, data: Uint8Array, request: SignRequest): Uint8Array {
    const info = ALGORITHMS[algorithm];
    switch (info.family) {
      case 'ed25519':
        return data;
      case 'ec': {
        // SP 800-73-4 Part 2 §3.2.4: the hash, truncated or left-padded to the field size.
        const digest = hashBytes(request.hash, data);
        if (digest.length >= info.fieldBytes) return digest.subarray(0, info.fieldBytes);
        const padded = new Uint8Array(info.fieldBytes);
        padded.set(digest, info.fieldBytes - digest.length);
        return padded;
      }
      case 'rsa': {
        const digest = hashBytes(request.hash, data);
        return request.padding === 'pss' ? emsaPss(request.hash, digest, info.bits, request.saltLength) : emsaPkcs1v15(request.hash, digest, info.bits / 8);
      }
    }
  }

  /**
   * Signs with the key in a slot. ECDSA signatures come back DER (as the card gives them), RSA and
   * Ed25519 raw. The PIN is verified only when the slot's policy needs it.
   */
  async sign(
    slot: number,
    algorithm: KeyAlgorithm,
    data: Uint8Array,
    request: SignRequest,
    known?: { pinPolicy?: PinPolicy; touchPolicy?: TouchPolicy },
  ): Promise<Uint8Array> {
    const input = this.#signatureInput(algorithm, data, request);
    return this.#authenticateWithSlot(slot, algorithm, TAG.CHALLENGE, input, known, { operation: `sign with slot ${slot.toString(16)}`, result: 'signature' });
  }

  /**
   * ECDH with the key in a slot (GENERAL AUTHENTICATE with tag 85): the shared secret for the peer's
   * uncompressed point (P-256/P-384). The PIN is verified if the slot's policy needs it.
   */
  async ecdh(
    slot: number,
    algorithm: 'p256' | 'p384',
    peerPoint: Uint8Array,
    known?: { pinPolicy?: PinPolicy; touchPolicy?: TouchPolicy },
  ): Promise<Uint8Array> {
    return this.#authenticateWithSlot(slot, algorithm, TAG.EXPONENTIATION, peerPoint, known, {
      operation: `agree a key with slot ${slot.toString(16)}`,
      result: 'shared secret',
    });
  }

  /** GENERAL AUTHENTICATE with a slot's private key: the PIN first if its policy needs it, a touch if it may. */
  #authenticateWithSlot(
    slot: number,
    algorithm: KeyAlgorithm,
    inputTag: number,
    input: Uint8Array,
    known: { pinPolicy?: PinPolicy; touchPolicy?: TouchPolicy } | undefined,
    what: { operation: string; result: string },
  ): Promise<Uint8Array> {
    return this.op(async () => {
      // Before 5.3 the card cannot tell a slot's policy: assume the slot's default.
      await this.#ensurePin(known?.pinPolicy ?? defaultPinPolicy(slot));
      const response = await piv.generalAuthenticate(
        this.channel,
        requireAlgorithmSupport(algorithm, this.version),
        slot,
        concat(tlv(TAG.RESPONSE, new Uint8Array()), tlv(inputTag, input)),
        { operation: what.operation, mayNeedTouch: known?.touchPolicy !== 'never' },
      );
      const output = response.get(TAG.RESPONSE);
      if (!output || output.length === 0) throw new CardResponseError(`${this.device} returned no ${what.result}`);
      return output;
    });
  }

  /**
   * Imports a private key into a slot (needs the management key). The card can then use it but
   * cannot attest it: only keys generated on the card are attestable.
   */
  async importKey(slot: number, key: KeyObject, policies: { pinPolicy?: PinPolicy; touchPolicy?: TouchPolicy } = {}): Promise<void> {
    const jwk = key.export({ format: 'jwk' });
    const bytes = (b64?: string) => Uint8Array.from(Buffer.from(b64 ?? '', 'base64url'));
    const algorithm = algorithmOfKey(key);
    if (!algorithm && key.asymmetricKeyType === 'rsa') {
      throw keywardError('KEY_SIZE_UNSUPPORTED', `RSA keys of ${key.asymmetricKeyDetails?.modulusLength ?? 0} bits cannot be imported; use 2048, 3072 or 4096`);
    }
    if (!algorithm) {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      throw keywardError('KEY_TYPE_UNSUPPORTED', `this ${key.asymmetricKeyType}${curve ? ` (${curve})` : ''} key cannot be imported into a PIV slot`, {
        hint: 'import a P-256, P-384, RSA 2048–4096 or Ed25519 key',
      });
    }
    const family = ALGORITHMS[algorithm].family;
    // The private key's components, tagged as Yubico's IMPORT wants them.
    const components =
      family === 'ec'
        ? tlv(0x06, bytes(jwk.d))
        : family === 'rsa'
          ? concat(tlv(0x01, bytes(jwk.p)), tlv(0x02, bytes(jwk.q)), tlv(0x03, bytes(jwk.dp)), tlv(0x04, bytes(jwk.dq)), tlv(0x05, bytes(jwk.qi)))
          : tlv(0x07, bytes(jwk.d));
    const id = requireAlgorithmSupport(algorithm, this.version);
    await this.op(async () => {
      await this.#authenticate();
      await yubico.importKey(this.channel, slot, id, components, {
        pin: policies.pinPolicy ? PIN_POLICY[policies.pinPolicy] : undefined,
        touch: policies.touchPolicy ? TOUCH_POLICY[policies.touchPolicy] : undefined,
      });
    });
  }

  // -- certificates and data objects ------------------------------------------------------------

  async getCertificate(slot: number): Promise<Uint8Array | undefined> {
    const object = await this.op(() =>
      piv.getData(this.channel, certificateObjectOf(slot), { operation: `read the certificate of slot ${slot.toString(16)}` }),
    );
    return object && object.length > 0 ? decodeCertificateObject(object) : undefined;
  }

  async putCertificate(slot: number, der: Uint8Array): Promise<void> {
    await this.op(async () => {
      await this.#authenticate();
      await piv.putData(this.channel, certificateObjectOf(slot), encodeCertificateObject(der), {
        operation: `store a certificate in slot ${slot.toString(16)}`,
      });
    });
  }

  async deleteCertificate(slot: number): Promise<void> {
    await this.op(async () => {
      await this.#authenticate();
      await piv.putData(this.channel, certificateObjectOf(slot), new Uint8Array(), { operation: `delete the certificate of slot ${slot.toString(16)}` });
    });
  }

  async getObject(objectId: number): Promise<Uint8Array | undefined> {
    return this.op(() => piv.getData(this.channel, objectId, { operation: `read data object ${objectId.toString(16)}` }));
  }

  /** 5.7+: removes the key from a slot. */
  async deleteKey(slot: number): Promise<void> {
    if (!this.supports.deleteKey) {
      throw keywardError('PIV_UNSUPPORTED', `${this.device} cannot delete keys (firmware 5.7 or later can)`, {
        hint: 'generate a new key over it instead, or reset the PIV application',
      });
    }
    await this.op(async () => {
      await this.#authenticate();
      await yubico.deleteKey(this.channel, slot);
    });
  }

  /** The slot's attestation certificate and the device's attestation (F9) certificate, DER. */
  async attest(slot: number): Promise<{ attestation: Uint8Array; deviceCertificate: Uint8Array }> {
    return this.op(async () => {
      const attestation = await yubico.attest(this.channel, slot);
      const deviceCertificate = await piv.getData(this.channel, OBJECT.ATTESTATION_CERTIFICATE, { operation: 'read the device attestation certificate' });
      if (!deviceCertificate) throw new CardResponseError(`${this.device} has no attestation certificate in slot F9`);
      // Yubico stores the F9 certificate raw or in the certificate object form (70 …).
      return { attestation, deviceCertificate: deviceCertificate[0] === TAG.CERTIFICATE ? decodeCertificateObject(deviceCertificate) : deviceCertificate };
    });
  }

  /**
   * Resets the PIV application to factory state: blocks PIN and PUK on purpose (the card allows a
   * reset only then) and erases every key and certificate. The caller must have asked the person.
   */
  async resetToFactory(): Promise<void> {
    await this.op(async () => {
      // Random wrong values: 8 hex digits, a valid PIN and PUK shape that is (almost surely) not the real one.
      const wrong = Secret.fromString(randomBytes(4).toString('hex'));
      for (let guard = 0; guard < 256; guard++) {
        const status = await piv.verifyStatus(this.channel);
        if (!status.verified && status.retriesLeft === 0) break;
        await piv.verify(this.channel, wrong.revealBytes(), { operation: 'block the PIN before reset' }).catch((e) => {
          if (!(e instanceof PinIncorrectError)) throw e;
        });
      }
      for (let guard = 0; guard < 256; guard++) {
        try {
          await piv.changeReferenceData(this.channel, 'PUK', wrong.revealBytes(), wrong.revealBytes());
        } catch (e) {
          if (!(e instanceof PinIncorrectError)) throw e;
          if (e.retriesLeft === 0) break;
        }
      }
      wrong.dispose();
      await yubico.reset(this.channel);
      this.#forgetPin();
    });
  }

  async close(): Promise<void> {
    this.#forgetPin();
    await this.channel.transport.close();
  }
}
