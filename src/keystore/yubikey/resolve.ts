/**
 * From a `yubikey:` URI to what it names: the one YubiKey (by serial or reader) among the cards
 * handed in and those in PC/SC readers, and its slot. Keeps a PIV session open per device, whose
 * credentials (PIN, management key, consent before a final try) come from the request's URI.
 */
import { AuthError, KeywardError, keywardError } from '../../errors.js';
import { parseManagementKeyHex } from '../../hsm/piv/management-key.js';
import {
  factoryDefaultsWarning,
  PivSession,
  slotId,
  type FactoryCredential,
  type ManagementKeyInfo,
  type PinStatus,
  type SlotInfo,
} from '../../hsm/piv/session.js';
import { DEFAULT_MANAGEMENT_KEY } from '../../hsm/piv/spec.js';
import { InProcessTransport } from '../../hsm/piv/transport/in-process.js';
import { listReaders, PcscTransport } from '../../hsm/piv/transport/pcsc.js';
import type { SmartCard } from '../../hsm/piv/transport/transport.js';
import { withSecrets, type Secret } from '../../secret.js';
import type { BackendContext } from '../backend.js';
import { consentToFinalTry } from '../consent.js';
import type { PinDevice } from '../device-pins.js';
import { obtainPin } from '../pin.js';
import { formatYubiKeyUri, redactUri, type YubiKeyUri } from '../uri/index.js';
import { tries } from '../../words.js';

/** A card handed to the keystore directly (the virtual YubiKey in the same process). */
export interface AttachedCard {
  reader: string;
  card: SmartCard;
}

/** The YubiKey backend's own settings, from the keystore's options. */
export interface YubiKeySettings {
  /** Cards handed in directly, besides PC/SC (the virtual YubiKey in this process). */
  attachedCards: AttachedCard[];
  /** Attestation roots trusted besides Yubico's (e.g. a virtual YubiKey's). */
  attestationRoots: Uint8Array[];
  /** Intermediates an attestation may chain through besides Yubico's (they grant no trust alone). */
  attestationIntermediates: Uint8Array[];
}

export interface Device {
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
export interface SlotContents {
  info: SlotInfo | undefined;
  certificate: Uint8Array | undefined;
  certificateRead: boolean;
}

export class YubiKeyResolver {
  readonly #ctx: BackendContext;
  readonly #attachedCards: readonly AttachedCard[];
  readonly #devices = new Map<string, Device>();
  readonly #warned = new Set<string>();

  constructor(context: BackendContext, attachedCards: readonly AttachedCard[]) {
    this.#ctx = context;
    this.#attachedCards = attachedCards;
  }

  /**
   * The PIV PIN of a device for `uri`: its pin-source, else KEYWARD_PIN_YUBIKEY_<serial>, else
   * KEYWARD_PIN (if no other device took it), else a prompt that names the device and `what`.
   */
  userPin(uri: YubiKeyUri, device: PinDevice, what = `PIN of ${device.name}`): Promise<Secret> {
    return this.#ctx.pins.obtain(uri, device, what);
  }

  #credentials(request: Request, pinDevice: () => PinDevice) {
    const ctx = this.#ctx;
    const device = () => pinDevice().name;
    return {
      pin: (status: PinStatus): Promise<Secret> =>
        this.userPin(request.uri, pinDevice(), `PIN of ${device()}${status.retriesLeft !== undefined ? ` (${tries(status.retriesLeft)} left)` : ''}`),
      managementKey: async (info: ManagementKeyInfo): Promise<Uint8Array> => {
        if (request.uri.managementKeySource || ctx.env.KEYWARD_MANAGEMENT_KEY) {
          const secret = await obtainPin(
            { what: 'management key', pinSource: request.uri.managementKeySource, envVar: 'KEYWARD_MANAGEMENT_KEY' },
            ctx.interaction,
            ctx.env,
          );
          return withSecrets([secret], async () => parseManagementKeyHex(secret.revealString()));
        }
        // The factory key is used only when the card itself says it is still set (and that is warned about).
        if (info.isDefault) return DEFAULT_MANAGEMENT_KEY;
        const secret = await obtainPin({ what: `management key of ${device()} (hex)`, envVar: 'KEYWARD_MANAGEMENT_KEY' }, ctx.interaction, ctx.env).catch(
          (error) => {
            if (error instanceof AuthError && error.code === 'PIN_REQUIRED') {
              throw keywardError('MANAGEMENT_KEY_REQUIRED', `${device()} needs its management key and there is no terminal to ask for it`, {
                hint: 'give it (in hex) with management-key-source=file:… in the URI, or KEYWARD_MANAGEMENT_KEY',
              });
            }
            throw error;
          },
        );
        return withSecrets([secret], async () => parseManagementKeyHex(secret.revealString()));
      },
      confirmFinalTry: (credential: 'PIN' | 'PUK'): Promise<boolean> => consentToFinalTry(ctx, device(), credential),
    };
  }

  async #open(reader: string, open: () => Promise<InProcessTransport | PcscTransport>, uri: YubiKeyUri): Promise<Device> {
    const existing = this.#devices.get(reader);
    if (existing) {
      existing.request.uri = uri;
      existing.request.slot = undefined;
      return existing;
    }
    let pinDevice: PinDevice = yubiKeyPinDevice(reader);
    let shortName = 'YubiKey';
    const request: Request = { uri };
    const slot = uri.slot === undefined ? undefined : slotId(uri.slot);
    const session = await PivSession.open(
      await open(),
      {
        credentials: this.#credentials(request, () => pinDevice),
        onTouchWait: () => {
          const notice = this.#ctx.interaction.notice(`Touch your ${shortName}…`);
          return { clear: (touched) => notice.clear(touched ? 'touched' : undefined) };
        },
      },
      // A request for one slot reads it while the card is held to be identified: one hold, one SELECT.
      slot === undefined ? undefined : async (opened) => void (request.slot = { id: slot, contents: await readSlot(opened, slot, false) }),
    );
    pinDevice = yubiKeyPinDevice(reader, session);
    if (session.serial !== undefined) shortName = `YubiKey (serial ${session.serial})`;
    const device: Device = { reader, session, request };
    this.#devices.set(reader, device);
    return device;
  }

  /** Every device: attached cards first, then PC/SC readers with a card in them. */
  async all(uri: YubiKeyUri): Promise<{ devices: Device[]; pcscError?: KeywardError }> {
    const devices: Device[] = [];
    for (const attached of this.#attachedCards) {
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

  /** The URI that names a device, or a slot of it: by serial when it has one, else by reader. */
  uriOf(device: Device, slot?: string): string {
    return formatYubiKeyUri(device.session.serial !== undefined ? { serial: device.session.serial, slot } : { reader: device.reader, slot });
  }

  /** Exactly one device that the URI names. */
  async device(uri: YubiKeyUri, uriText: string): Promise<Device> {
    const { devices, pcscError } = await this.all(uri);
    const matching = devices.filter(
      (d) => (uri.serial === undefined || d.session.serial === uri.serial) && (uri.reader === undefined || d.reader === uri.reader),
    );
    if (matching.length === 1) return matching[0]!;
    // The only card there is held by another program: that is the answer, not "no YubiKey".
    if (matching.length === 0 && devices.length === 0 && pcscError) throw pcscError;
    if (matching.length === 0) {
      const held = pcscError ? `\nand a card Keyward could not take hold of: ${pcscError.message}; ${pcscError.hint ?? ''}` : '';
      throw keywardError('YUBIKEY_NOT_FOUND', `no YubiKey matches ${redactUri(uriText)}`, {
        hint: devices.length
          ? `YubiKeys here:\n${devices.map((d) => `  ${this.uriOf(d)}  (${d.reader})`).join('\n')}${held}`
          : 'no YubiKey is connected; plug one in (keyward doctor explains what the machine sees)',
      });
    }
    throw keywardError('YUBIKEY_AMBIGUOUS', `${matching.length} YubiKeys match ${redactUri(uriText)}`, {
      hint: `name one with serial=:\n${matching.map((d) => `  ${this.uriOf(d)}`).join('\n')}`,
    });
  }

  /**
   * Warns, once per device, about a factory PIN, PUK or management key. Only where a person sets a
   * card up or looks at it (key generation, the yubikey commands; doctor reports it too), never on
   * the signing path: there it would cost three metadata reads per command.
   */
  async warnDefaults(device: Device, changing: readonly FactoryCredential[] = []): Promise<void> {
    if (this.#warned.has(device.reader)) return;
    this.#warned.add(device.reader);
    // Not the credentials the command is about to change: "still uses the factory PIN" at the start of `pin change` is noise.
    const defaults = (await device.session.factoryDefaults()).filter((credential) => !changing.includes(credential));
    if (defaults.length) {
      const { message, hint } = factoryDefaultsWarning(device.session.device, defaults);
      this.#ctx.interaction.warn(`${message}; ${hint}`);
    }
  }

  /** The slot's contents: read while the device was opened for this request, or now. */
  async slotContents(device: Device, slot: number, withCertificate: boolean): Promise<SlotContents> {
    const prefetched = device.request.slot;
    if (prefetched?.id === slot) {
      device.request.slot = undefined;
      if (prefetched.contents.certificateRead || !withCertificate) return prefetched.contents;
    }
    return readSlot(device.session, slot, withCertificate);
  }

  async close(): Promise<void> {
    const devices = [...this.#devices.values()];
    this.#devices.clear();
    await Promise.all(devices.map((d) => d.session.close()));
  }
}

/** A YubiKey as the one its PIN is for: by its serial, else (a card that reports none) by its reader. */
export function yubiKeyPinDevice(reader: string, session?: Pick<PivSession, 'serial' | 'device'>): PinDevice {
  const serial = session?.serial?.toString();
  return { kind: 'yubikey', serial, id: serial ?? `reader ${reader}`, name: session?.device ?? reader };
}

/** The slot a URI names, for operations on one key. */
export function requireSlot(uri: YubiKeyUri, uriText: string, verb: string): number {
  if (!uri.slot) {
    throw keywardError('SLOT_REQUIRED', `cannot ${verb}: ${redactUri(uriText)} names a YubiKey but no slot`, {
      hint: 'add slot=9a, 9c, 9d, 9e or 82–95 to the URI, e.g. yubikey:serial=12345678;slot=9c',
    });
  }
  return slotId(uri.slot);
}

/** Reads a slot in one operation: its metadata, and its certificate when asked or when there is no metadata to go by. */
async function readSlot(session: PivSession, slot: number, withCertificate: boolean): Promise<SlotContents> {
  return session.op(async () => {
    const info = await session.slotInfo(slot);
    const certificateRead = withCertificate || !session.supports.metadata;
    return { info, certificate: certificateRead ? await session.getCertificate(slot) : undefined, certificateRead };
  });
}
