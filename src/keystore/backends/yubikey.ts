/**
 * The keystore backend for `yubikey:` URIs: finds the YubiKey a URI names (by serial or reader),
 * opens a PIV session on it with credentials from the right sources, and adapts PIV slots to the
 * KeyHandle interface. Cards come from PC/SC, or are handed in (the virtual YubiKey in-process).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { algorithmOfKey, ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { ecdsaDerToRaw } from '../../crypto/signature-encoding.js';
import { AuthError, CancelledError, ConflictError, KeywardError, NotFoundError, UsageError } from '../../errors.js';
import { trustFromBundle, verifyAttestation, type AttestationTrust } from '../../hsm/piv/attestation.js';
import { parseManagementKeyHex } from '../../hsm/piv/management-key.js';
import { PivSession, slotId, type ManagementKeyInfo, type PinStatus, type SlotInfo } from '../../hsm/piv/session.js';
import { DEFAULT_MANAGEMENT_KEY, SLOTS, type PinPolicy, type TouchPolicy } from '../../hsm/piv/spec.js';
import { InProcessTransport } from '../../hsm/piv/transport/in-process.js';
import { listReaders, PcscTransport } from '../../hsm/piv/transport/pcsc.js';
import type { SmartCard } from '../../hsm/piv/transport/transport.js';
import { yubicoAttestationTrust } from '../../hsm/piv/yubico-roots.js';
import { parseCertificate } from '../../x509/certificate.js';
import { pemBlocks } from '../../x509/pem.js';
import { certificateSpki, samePublicKey } from '../../x509/public-key.js';
import { withSecrets, type Secret } from '../../secret.js';
import type { Attestation, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend, SignOptions } from '../keystore.js';
import { obtainPin } from '../pin.js';
import type { BackendContext } from '../registry.js';
import { formatYubiKeyUri, parseYubiKeyUri, redactUri, type YubiKeyUri } from '../uri.js';

/** A card handed to the keystore directly (the virtual YubiKey in the same process). */
export interface AttachedCard {
  reader: string;
  card: SmartCard;
}

interface Device {
  reader: string;
  session: PivSession;
  /** The URI of the current request: its pin-source and management-key-source apply. */
  request: { uri: YubiKeyUri };
}

export interface DeviceSummary {
  uri: string;
  reader: string;
  serial: number | undefined;
  firmware: string;
}

const slotLabel = (slot: string) => `${slot} (${SLOTS[slot]?.name ?? 'slot'})`;

export class YubiKeyBackend implements KeystoreBackend {
  readonly scheme = 'yubikey';
  readonly #ctx: BackendContext;
  readonly #devices = new Map<string, Device>();
  readonly #warned = new Set<string>();

  constructor(context: BackendContext) {
    this.#ctx = context;
  }

  // -- finding devices ---------------------------------------------------------------------------

  #credentials(request: { uri: YubiKeyUri }, device: () => string) {
    const ctx = this.#ctx;
    return {
      pin: (status: PinStatus): Promise<Secret> =>
        obtainPin(
          {
            what: `PIN of ${device()}${status.retriesLeft !== undefined ? ` (${status.retriesLeft} tries left)` : ''}`,
            pinSource: request.uri.pinSource,
            pinValue: request.uri.pinValue,
            envVar: 'KEYWARD_PIN',
          },
          ctx.interaction,
          ctx.env,
        ),
      managementKey: async (info: ManagementKeyInfo): Promise<Uint8Array> => {
        if (request.uri.managementKeySource || ctx.env.KEYWARD_MANAGEMENT_KEY) {
          const secret = await obtainPin({ what: 'management key', pinSource: request.uri.managementKeySource, envVar: 'KEYWARD_MANAGEMENT_KEY' }, ctx.interaction, ctx.env);
          return withSecrets([secret], async () => parseManagementKeyHex(secret.revealString()));
        }
        // The factory key is used only when the card itself says it is still set (and that is warned about).
        if (info.isDefault) return DEFAULT_MANAGEMENT_KEY;
        const secret = await obtainPin({ what: `management key of ${device()} (hex)`, envVar: 'KEYWARD_MANAGEMENT_KEY' }, ctx.interaction, ctx.env).catch((error) => {
          if (error instanceof AuthError && error.code === 'PIN_REQUIRED') {
            throw new AuthError('MANAGEMENT_KEY_REQUIRED', `${device()} needs its management key and there is no terminal to ask for it`, {
              hint: 'give it (in hex) with management-key-source=file:… in the URI, or KEYWARD_MANAGEMENT_KEY',
            });
          }
          throw error;
        });
        return withSecrets([secret], async () => parseManagementKeyHex(secret.revealString()));
      },
      confirmFinalTry: async (credential: 'PIN' | 'PUK'): Promise<boolean> => {
        if (ctx.allowFinalTry) return true;
        const answer = await ctx.interaction.confirm(`${device()} will block its ${credential} after one more wrong attempt. Use the last try now?`);
        if (answer === false) throw new CancelledError(`stopped: the ${credential}'s last try was kept`);
        return answer === true;
      },
    };
  }

  async #open(reader: string, open: () => Promise<InProcessTransport | PcscTransport>, uri: YubiKeyUri): Promise<Device> {
    const existing = this.#devices.get(reader);
    if (existing) {
      existing.request.uri = uri;
      return existing;
    }
    let name = reader;
    let shortName = 'YubiKey';
    const request = { uri };
    const session = await PivSession.open(await open(), {
      credentials: this.#credentials(request, () => name),
      onTouchWait: () => this.#ctx.interaction.notice(`Touch your ${shortName}…`),
    });
    name = session.device;
    if (session.serial !== undefined) shortName = `YubiKey (serial ${session.serial})`;
    const device = { reader, session, request };
    this.#devices.set(reader, device);
    return device;
  }

  /** Every device: attached cards first, then PC/SC readers with a card in them. */
  async #allDevices(uri: YubiKeyUri): Promise<{ devices: Device[]; pcscError?: KeywardError }> {
    const devices: Device[] = [];
    for (const attached of this.#ctx.attachedCards) {
      devices.push(await this.#open(attached.reader, async () => new InProcessTransport(attached.card, attached.reader), uri));
    }
    let pcscError: KeywardError | undefined;
    try {
      for (const reader of listReaders().filter((r) => r.cardPresent)) {
        try {
          devices.push(await this.#open(reader.name, () => PcscTransport.connect(reader.name), uri));
        } catch (error) {
          // A reader holding some other card (no PIV application) is not a YubiKey: skip it.
          if (!(error instanceof KeywardError && ['PIV_NOT_FOUND', 'PIV_UNSUPPORTED', 'CARD_IN_USE'].includes(error.code))) throw error;
          if (error.code === 'CARD_IN_USE') pcscError = error;
        }
      }
    } catch (error) {
      if (!(error instanceof KeywardError) || devices.length === 0) throw error;
      pcscError = error;
    }
    return { devices, pcscError };
  }

  #uriOf(device: Device, slot?: string): string {
    return formatYubiKeyUri(device.session.serial !== undefined ? { serial: device.session.serial, slot } : { reader: device.reader, slot });
  }

  async #device(uri: YubiKeyUri, uriText: string): Promise<Device> {
    const { devices, pcscError } = await this.#allDevices(uri);
    const matching = devices.filter((d) => (uri.serial === undefined || d.session.serial === uri.serial) && (uri.reader === undefined || d.reader === uri.reader));
    if (matching.length === 1) {
      await this.#warnDefaults(matching[0]!);
      return matching[0]!;
    }
    if (matching.length === 0) {
      throw new NotFoundError('YUBIKEY_NOT_FOUND', `no YubiKey matches ${redactUri(uriText)}`, {
        hint: devices.length
          ? `YubiKeys here:\n${devices.map((d) => `  ${this.#uriOf(d)}  (${d.reader})`).join('\n')}`
          : pcscError
            ? `${pcscError.message}; ${pcscError.hint ?? ''}`
            : 'no YubiKey is connected; plug one in (keyward doctor explains what the machine sees)',
      });
    }
    throw new ConflictError('YUBIKEY_AMBIGUOUS', `${matching.length} YubiKeys match ${redactUri(uriText)}`, {
      hint: `name one with serial=:\n${matching.map((d) => `  ${this.#uriOf(d)}`).join('\n')}`,
    });
  }

  /** Warns, once per device, about factory PIN, PUK and management key. */
  async #warnDefaults(device: Device): Promise<void> {
    const key = device.reader;
    if (this.#warned.has(key) || !device.session.supports.metadata) return;
    this.#warned.add(key);
    // One operation on the card, not three: each operation re-selects PIV.
    const [pin, puk, mk] = await device.session.op(async () => [await device.session.pinStatus(), await device.session.pukStatus(), await device.session.managementKeyInfo()] as const);
    const defaults = [pin.isDefault && 'PIN', puk.isDefault && 'PUK', mk.isDefault && 'management key'].filter(Boolean);
    if (defaults.length) {
      this.#ctx.interaction.warn(
        `${device.session.device} still uses the factory ${defaults.join(', ')}: anyone holding it can use or replace its keys. Change ${defaults.length > 1 ? 'them' : 'it'}: keyward yubikey pin change / puk change / management-key set`,
      );
    }
  }

  #requireSlot(uri: YubiKeyUri, uriText: string, verb: string): number {
    if (!uri.slot) {
      throw new UsageError('SLOT_REQUIRED', `cannot ${verb}: ${redactUri(uriText)} names a YubiKey but no slot`, {
        hint: 'add slot=9a, 9c, 9d, 9e or 82–95 to the URI, e.g. yubikey:serial=12345678;slot=9c',
      });
    }
    return slotId(uri.slot);
  }

  async #slotKeyInfo(device: Device, slot: number): Promise<{ info: SlotInfo | undefined; certificate: Uint8Array | undefined }> {
    return device.session.op(async () => ({ info: await device.session.slotInfo(slot), certificate: await device.session.getCertificate(slot) }));
  }

  #keyInfo(device: Device, slot: number, info: SlotInfo | undefined, certificate: Uint8Array | undefined): KeyInfo {
    const name = slot.toString(16);
    let algorithm = info?.algorithm;
    if (!algorithm && certificate) algorithm = algorithmOfCertificate(certificate);
    return {
      uri: this.#uriOf(device, name),
      backend: this.scheme,
      label: slotLabel(name),
      algorithm,
      device: device.session.device,
      hasPrivateKey: info !== undefined || certificate !== undefined,
      hasCertificate: certificate !== undefined,
      // A PIV private key never leaves the card, generated or imported.
      nonExtractable: true,
      details: {
        slot: name,
        serial: device.session.serial,
        reader: device.reader,
        pinPolicy: info?.pinPolicy,
        touchPolicy: info?.touchPolicy,
        origin: info?.origin,
      },
    };
  }

  // -- KeystoreBackend ----------------------------------------------------------------------------

  async generate(uriText: string, options: GenerateOptions): Promise<KeyHandle> {
    const uri = parseYubiKeyUri(uriText);
    const slot = this.#requireSlot(uri, uriText, 'generate a key');
    const device = await this.#device(uri, uriText);
    const existing = await device.session.slotInfo(slot);
    if (existing && !options.overwrite) {
      throw new ConflictError('SLOT_IN_USE', `slot ${slotLabel(uri.slot!)} of ${device.session.device} already holds a ${existing.algorithm ? ALGORITHMS[existing.algorithm].title : ''} key`, {
        hint: 'choose an empty slot (keyward key list shows them), or replace the key deliberately with --overwrite',
      });
    }
    await device.session.generateKey(slot, options.algorithm, { pinPolicy: options.pinPolicy as PinPolicy | undefined, touchPolicy: options.touchPolicy as TouchPolicy | undefined });
    // A certificate left from an older key would now describe the wrong key: remove it.
    if (await device.session.getCertificate(slot)) await device.session.deleteCertificate(slot);
    return this.#handle(device, slot);
  }

  async #handle(device: Device, slot: number): Promise<YubiKeyHandle> {
    const { info, certificate } = await this.#slotKeyInfo(device, slot);
    return new YubiKeyHandle(device.session, slot, info, this.#keyInfo(device, slot, info, certificate), this.#attestationTrust());
  }

  async open(uriText: string): Promise<KeyHandle> {
    const uri = parseYubiKeyUri(uriText);
    const slot = this.#requireSlot(uri, uriText, 'open a key');
    const device = await this.#device(uri, uriText);
    const handle = await this.#handle(device, slot);
    if (!handle.info.hasPrivateKey && device.session.supports.metadata) {
      throw new NotFoundError('KEY_NOT_FOUND', `slot ${slotLabel(uri.slot!)} of ${device.session.device} holds no key`, {
        hint: `generate one: keyward key generate '${this.#uriOf(device, uri.slot)}' --algorithm p256`,
      });
    }
    return handle;
  }

  async list(uriText: string): Promise<KeyInfo[]> {
    const uri = parseYubiKeyUri(uriText);
    const devices = uri.serial !== undefined || uri.reader !== undefined ? [await this.#device(uri, uriText)] : (await this.#allDevices(uri)).devices;
    const result: KeyInfo[] = [];
    for (const device of devices) {
      const slots = uri.slot ? [slotId(uri.slot)] : Object.values(SLOTS).map((s) => s.id).filter((id) => id !== 0xf9);
      for (const slot of slots) {
        const { info, certificate } = await this.#slotKeyInfo(device, slot);
        if (info || certificate) result.push(this.#keyInfo(device, slot, info, certificate));
      }
    }
    return result;
  }

  async delete(uriText: string): Promise<KeyInfo> {
    const uri = parseYubiKeyUri(uriText);
    const slot = this.#requireSlot(uri, uriText, 'delete a key');
    const device = await this.#device(uri, uriText);
    const handle = await this.#handle(device, slot);
    if (!handle.info.hasPrivateKey) throw new NotFoundError('KEY_NOT_FOUND', `slot ${slotLabel(uri.slot!)} of ${device.session.device} holds no key`);
    await device.session.deleteKey(slot);
    if (handle.info.hasCertificate) await device.session.deleteCertificate(slot);
    return handle.info;
  }

  async capabilities(uriText: string): Promise<Capabilities> {
    const uri = parseYubiKeyUri(uriText);
    const device = await this.#device(uri, uriText);
    return { algorithms: device.session.supports.algorithms, attestation: true, touch: true };
  }

  async close(): Promise<void> {
    const devices = [...this.#devices.values()];
    this.#devices.clear();
    await Promise.all(devices.map((d) => d.session.close()));
  }

  /**
   * What attestation trusts: Yubico's roots and intermediates, plus the roots and intermediates the
   * user gave (options, and the bundle files in KEYWARD_ATTESTATION_ROOTS).
   */
  #attestationTrust(): AttestationTrust {
    const trust = yubicoAttestationTrust();
    trust.roots.push(...this.#ctx.attestationRoots);
    trust.intermediates.push(...this.#ctx.attestationIntermediates);
    for (const file of (this.#ctx.env.KEYWARD_ATTESTATION_ROOTS ?? '').split(':').filter(Boolean)) {
      let text: Buffer;
      try {
        text = readFileSync(file);
      } catch (cause) {
        throw new NotFoundError('ATTESTATION_ROOTS_UNREADABLE', `cannot read attestation roots from ${file}`, { cause });
      }
      const fromFile = trustFromBundle(pemBlocks(text, 'CERTIFICATE'));
      trust.roots.push(...fromFile.roots);
      trust.intermediates.push(...fromFile.intermediates);
    }
    return trust;
  }

  // -- device management (keyward yubikey …) ------------------------------------------------------

  async devices(): Promise<DeviceSummary[]> {
    const { devices } = await this.#allDevices({});
    return devices.map((d) => ({ uri: this.#uriOf(d), reader: d.reader, serial: d.session.serial, firmware: d.session.version.join('.') }));
  }

  /** The PIV session of the device a URI names, for management commands. */
  async session(uriText: string): Promise<PivSession> {
    const uri = parseYubiKeyUri(uriText);
    return (await this.#device(uri, uriText)).session;
  }
}

function algorithmOfCertificate(der: Uint8Array): KeyAlgorithm | undefined {
  try {
    return algorithmOfKey(new X509Certificate(Buffer.from(der)).publicKey);
  } catch {
    // A malformed certificate says nothing about the key.
  }
  return undefined;
}

class YubiKeyHandle implements KeyHandle {
  readonly info: KeyInfo;
  readonly #session: PivSession;
  readonly #slot: number;
  readonly #slotInfo: SlotInfo | undefined;
  readonly #trust: AttestationTrust;

  constructor(session: PivSession, slot: number, slotInfo: SlotInfo | undefined, info: KeyInfo, trust: AttestationTrust) {
    this.#session = session;
    this.#slot = slot;
    this.#slotInfo = slotInfo;
    this.info = info;
    this.#trust = trust;
  }

  #algorithm(): KeyAlgorithm {
    if (!this.info.algorithm) {
      throw new UsageError('KEY_TYPE_UNKNOWN', `the key type in ${this.info.uri} is unknown: firmware before 5.3 reports it only through a stored certificate`, {
        hint: 'store the key\'s certificate in the slot (keyward cert import)',
      });
    }
    return this.info.algorithm;
  }

  async publicKey(): Promise<Uint8Array> {
    if (this.#slotInfo?.publicKey) return this.#slotInfo.publicKey;
    const certificate = await this.certificate();
    if (certificate) return certificateSpki(certificate);
    throw new NotFoundError('PUBLIC_KEY_UNAVAILABLE', `${this.info.device} does not report the public key of slot ${this.#slot.toString(16)}`, {
      hint: 'firmware before 5.3 has no metadata: keep the public key from generation, or store a certificate in the slot',
    });
  }

  async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const algorithm = this.#algorithm();
    const info = ALGORITHMS[algorithm];
    if (options.padding && info.family !== 'rsa') throw new UsageError('PADDING_INVALID', `padding applies to RSA keys; slot ${this.#slot.toString(16)} holds ${info.title}`);
    const signature = await this.#session.sign(
      this.#slot,
      algorithm,
      data,
      { hash: options.hash ?? info.defaultHash, padding: options.padding, saltLength: options.saltLength },
      this.#slotInfo,
    );
    return info.family === 'ec' && options.format === 'raw' ? ecdsaDerToRaw(signature, info.fieldBytes) : signature;
  }

  certificate(): Promise<Uint8Array | undefined> {
    return this.#session.getCertificate(this.#slot);
  }

  async setCertificate(der: Uint8Array): Promise<void> {
    const certificate = parseCertificate(der);
    if (this.#slotInfo?.publicKey && !samePublicKey(certificate.publicKey, this.#slotInfo.publicKey)) {
      throw new UsageError('CERTIFICATE_KEY_MISMATCH', `the certificate (${certificate.subject}) is for another key than the one in slot ${this.#slot.toString(16)}`);
    }
    await this.#session.putCertificate(this.#slot, der);
  }

  async attest(): Promise<Attestation> {
    const { attestation, deviceCertificate } = await this.#session.attest(this.#slot);
    const verified = verifyAttestation({ attestation, deviceCertificate, trust: this.#trust, expectedPublicKey: await this.publicKey() });
    return {
      chain: verified.chain.slice(0, -1),
      claims: { ...verified.claims, slot: this.#slot.toString(16), root: verified.root, device: verified.device, path: verified.path },
    };
  }
}
