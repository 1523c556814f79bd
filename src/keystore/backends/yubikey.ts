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
import type { AttestationTrust } from '../../hsm/piv/attestation.js';
import { parseManagementKeyHex } from '../../hsm/piv/management-key.js';
import { factoryDefaultsWarning, PivSession, slotId, type ManagementKeyInfo, type PinStatus, type SlotInfo } from '../../hsm/piv/session.js';
import { DEFAULT_MANAGEMENT_KEY, SLOTS, type PinPolicy, type TouchPolicy } from '../../hsm/piv/spec.js';
import { InProcessTransport } from '../../hsm/piv/transport/in-process.js';
import { listReaders, PcscTransport } from '../../hsm/piv/transport/pcsc.js';
import type { SmartCard } from '../../hsm/piv/transport/transport.js';
import { parseCertificate } from '../../x509/certificate.js';
import { pemBlocks } from '../../x509/pem.js';
import { certificateSpki, samePublicKey } from '../../x509/public-key.js';
import { withSecrets, type Secret } from '../../secret.js';
import type { Attestation, BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend, SignOptions } from '../backend.js';
import { obtainPin } from '../pin.js';
import { formatYubiKeyUri, parseYubiKeyUri, redactUri, type YubiKeyUri } from '../uri.js';

/** A card handed to the keystore directly (the virtual YubiKey in the same process). */
export interface AttachedCard {
  reader: string;
  card: SmartCard;
}

interface Device {
  reader: string;
  session: PivSession;
  request: Request;
}

/** The request a device is serving now: renewed by every backend call. */
interface Request {
  /** Its pin-source and management-key-source apply. */
  uri: YubiKeyUri;
  /** The slot the URI names, read while the card was held to open it; taken by the first read of that slot. */
  slot?: { id: number; contents: SlotContents };
}

/** What a slot holds: metadata (5.3+) and the certificate, unless it was not read. */
interface SlotContents {
  info: SlotInfo | undefined;
  certificate: Uint8Array | undefined;
  certificateRead: boolean;
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

  #credentials(request: Request, device: () => string) {
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
      existing.request.slot = undefined;
      return existing;
    }
    let name = reader;
    let shortName = 'YubiKey';
    const request: Request = { uri };
    const slot = uri.slot === undefined ? undefined : slotId(uri.slot);
    const session = await PivSession.open(
      await open(),
      {
        credentials: this.#credentials(request, () => name),
        onTouchWait: () => this.#ctx.interaction.notice(`Touch your ${shortName}…`),
      },
      // A request for one slot reads it while the card is held to be identified: one hold, one SELECT.
      slot === undefined ? undefined : async (opened) => void (request.slot = { id: slot, contents: await readSlot(opened, slot, false) }),
    );
    name = session.device;
    if (session.serial !== undefined) shortName = `YubiKey (serial ${session.serial})`;
    const device: Device = { reader, session, request };
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
    if (matching.length === 1) return matching[0]!;
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

  /**
   * Warns, once per device, about a factory PIN, PUK or management key. Only where a person sets a
   * card up or looks at it (key generation, the yubikey commands; doctor reports it too), never on
   * the signing path: there it would cost three metadata reads per command.
   */
  async #warnDefaults(device: Device): Promise<void> {
    if (this.#warned.has(device.reader)) return;
    this.#warned.add(device.reader);
    const defaults = await device.session.factoryDefaults();
    if (defaults.length) {
      const { message, hint } = factoryDefaultsWarning(device.session.device, defaults);
      this.#ctx.interaction.warn(`${message}; ${hint}`);
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

  /** The slot's contents: read while the device was opened for this request, or now. */
  async #slotContents(device: Device, slot: number, withCertificate: boolean): Promise<SlotContents> {
    const prefetched = device.request.slot;
    if (prefetched?.id === slot) {
      device.request.slot = undefined;
      if (prefetched.contents.certificateRead || !withCertificate) return prefetched.contents;
    }
    return readSlot(device.session, slot, withCertificate);
  }

  #keyInfo(device: Device, slot: number, { info, certificate, certificateRead }: SlotContents): KeyInfo {
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
      hasCertificate: certificateRead ? certificate !== undefined : undefined,
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
    await this.#warnDefaults(device);
    const existing = (await this.#slotContents(device, slot, false)).info;
    if (existing && !options.overwrite) {
      throw new ConflictError('SLOT_IN_USE', `slot ${slotLabel(uri.slot!)} of ${device.session.device} already holds a ${existing.algorithm ? ALGORITHMS[existing.algorithm].title : ''} key`, {
        hint: 'choose an empty slot (keyward key list shows them), or replace the key deliberately with --overwrite',
      });
    }
    await device.session.generateKey(slot, options.algorithm, { pinPolicy: options.pinPolicy as PinPolicy | undefined, touchPolicy: options.touchPolicy as TouchPolicy | undefined });
    // A certificate left from an older key would now describe the wrong key: remove it.
    if (await device.session.getCertificate(slot)) await device.session.deleteCertificate(slot);
    return this.#handle(device, slot, true);
  }

  async #handle(device: Device, slot: number, withCertificate: boolean): Promise<YubiKeyHandle> {
    const contents = await this.#slotContents(device, slot, withCertificate);
    return new YubiKeyHandle(device.session, slot, contents.info, this.#keyInfo(device, slot, contents), () => this.#attestationTrust());
  }

  async open(uriText: string): Promise<KeyHandle> {
    const uri = parseYubiKeyUri(uriText);
    const slot = this.#requireSlot(uri, uriText, 'open a key');
    const device = await this.#device(uri, uriText);
    // Using a key needs its metadata only (its certificate too before 5.3, to learn the algorithm).
    const handle = await this.#handle(device, slot, false);
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
        const contents = await this.#slotContents(device, slot, true);
        if (contents.info || contents.certificate) result.push(this.#keyInfo(device, slot, contents));
      }
    }
    return result;
  }

  async delete(uriText: string): Promise<KeyInfo> {
    const uri = parseYubiKeyUri(uriText);
    const slot = this.#requireSlot(uri, uriText, 'delete a key');
    const device = await this.#device(uri, uriText);
    const handle = await this.#handle(device, slot, true);
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
   * user gave (options, and the bundle files in KEYWARD_ATTESTATION_ROOTS). Read, and the X.509
   * code it needs loaded, only when a key is attested.
   */
  async #attestationTrust(): Promise<AttestationTrust> {
    const { trustFromBundle } = await import('../../hsm/piv/attestation.js');
    const { yubicoAttestationTrust } = await import('../../hsm/piv/yubico-roots.js');
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
    const device = await this.#device(uri, uriText);
    await this.#warnDefaults(device);
    return device.session;
  }
}

/** Reads a slot in one operation: its metadata, and its certificate when asked or when there is no metadata to go by. */
async function readSlot(session: PivSession, slot: number, withCertificate: boolean): Promise<SlotContents> {
  return session.op(async () => {
    const info = await session.slotInfo(slot);
    const certificateRead = withCertificate || !session.supports.metadata;
    return { info, certificate: certificateRead ? await session.getCertificate(slot) : undefined, certificateRead };
  });
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
  readonly #trust: () => Promise<AttestationTrust>;

  constructor(session: PivSession, slot: number, slotInfo: SlotInfo | undefined, info: KeyInfo, trust: () => Promise<AttestationTrust>) {
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
    // Loaded here: its X.509 decoding is a start-up cost that only attestation should pay.
    const { verifyAttestation } = await import('../../hsm/piv/attestation.js');
    const { attestation, deviceCertificate } = await this.#session.attest(this.#slot);
    const verified = verifyAttestation({ attestation, deviceCertificate, trust: await this.#trust(), expectedPublicKey: await this.publicKey() });
    return {
      chain: verified.chain.slice(0, -1),
      claims: { ...verified.claims, slot: this.#slot.toString(16), root: verified.root, device: verified.device, path: verified.path },
    };
  }
}
