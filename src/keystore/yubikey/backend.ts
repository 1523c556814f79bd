/**
 * The keystore backend for `yubikey:` URIs: adapts PIV slots to the KeystoreBackend interface.
 * Finding the device a URI names is in resolve.ts, key handles in handle.ts, device administration
 * in administration.ts. Cards come from PC/SC, or are handed in (the virtual YubiKey in-process).
 */
import { X509Certificate } from 'node:crypto';
import { algorithmOfKey, ALGORITHMS, type KeyAlgorithm } from '../../crypto/algorithms.js';
import { keywardError } from '../../errors.js';
import { slotId } from '../../hsm/piv/session.js';
import { SLOTS, type PinPolicy, type TouchPolicy } from '../../hsm/piv/spec.js';
import type { BackendContext, Capabilities, GenerateOptions, KeyHandle, KeyInfo, KeystoreBackend } from '../backend.js';
import { parseYubiKeyUri } from '../uri/index.js';
import { YubiKeyAdministration } from './administration.js';
import { YubiKeyHandle } from './handle.js';
import { requireSlot, YubiKeyResolver, type Device, type SlotContents, type YubiKeySettings } from './resolve.js';
import { withArticle } from '../../words.js';

const slotLabel = (slot: string) => `${slot} (${SLOTS[slot]?.name ?? 'slot'})`;

export class YubiKeyBackend implements KeystoreBackend {
  readonly scheme = 'yubikey';
  readonly administration: YubiKeyAdministration;
  readonly #ctx: BackendContext;
  readonly #settings: YubiKeySettings;
  readonly #resolver: YubiKeyResolver;

  constructor(context: BackendContext, settings: YubiKeySettings) {
    this.#ctx = context;
    this.#settings = settings;
    this.#resolver = new YubiKeyResolver(context, settings.attachedCards);
    this.administration = new YubiKeyAdministration(this.#resolver);
  }

  #keyInfo(device: Device, slot: number, { info, certificate, certificateRead }: SlotContents): KeyInfo {
    const name = slot.toString(16);
    let algorithm = info?.algorithm;
    if (!algorithm && certificate) algorithm = algorithmOfCertificate(certificate);
    return {
      uri: this.#resolver.uriOf(device, name),
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

  async #handle(device: Device, slot: number, withCertificate: boolean): Promise<YubiKeyHandle> {
    const contents = await this.#resolver.slotContents(device, slot, withCertificate);
    return new YubiKeyHandle(device.session, slot, contents.info, this.#keyInfo(device, slot, contents), this.#ctx, this.#settings);
  }

  async generate(uriText: string, options: GenerateOptions): Promise<KeyHandle> {
    const uri = parseYubiKeyUri(uriText);
    const slot = requireSlot(uri, uriText, 'generate a key');
    if (options.backup) {
      throw keywardError('BACKUP_UNSUPPORTED', 'a YubiKey key never leaves the card: it cannot be made for backup by wrapping', {
        hint: 'make the key on a PKCS#11 token (an HSM) to back it up by wrapping, or give the role several keys on several YubiKeys',
      });
    }
    const device = await this.#resolver.device(uri, uriText);
    await this.#resolver.warnDefaults(device);
    const existing = (await this.#resolver.slotContents(device, slot, false)).info;
    if (existing && !options.overwrite) {
      throw keywardError(
        'SLOT_IN_USE',
        `slot ${slotLabel(uri.slot!)} of ${device.session.device} already holds ${existing.algorithm ? withArticle(`${ALGORITHMS[existing.algorithm].title} key`) : 'a key'}`,
        {
          hint: 'choose an empty slot (keyward key list shows them), or replace the key deliberately with --overwrite',
        },
      );
    }
    await device.session.generateKey(slot, options.algorithm, {
      pinPolicy: options.pinPolicy as PinPolicy | undefined,
      touchPolicy: options.touchPolicy as TouchPolicy | undefined,
    });
    // A certificate left from an older key would now describe the wrong key: remove it.
    if (await device.session.getCertificate(slot)) await device.session.deleteCertificate(slot);
    return this.#handle(device, slot, true);
  }

  async open(uriText: string): Promise<KeyHandle> {
    const uri = parseYubiKeyUri(uriText);
    const slot = requireSlot(uri, uriText, 'open a key');
    const device = await this.#resolver.device(uri, uriText);
    // Using a key needs its metadata only (its certificate too before 5.3, to learn the algorithm).
    const handle = await this.#handle(device, slot, false);
    if (!handle.info.hasPrivateKey && device.session.supports.metadata) {
      throw keywardError('KEY_NOT_FOUND', `slot ${slotLabel(uri.slot!)} of ${device.session.device} holds no key`, {
        hint: `generate one: keyward key generate '${this.#resolver.uriOf(device, uri.slot)}' --algorithm p256`,
      });
    }
    return handle;
  }

  async list(uriText: string): Promise<KeyInfo[]> {
    const uri = parseYubiKeyUri(uriText);
    const devices =
      uri.serial !== undefined || uri.reader !== undefined ? [await this.#resolver.device(uri, uriText)] : (await this.#resolver.all(uri)).devices;
    const result: KeyInfo[] = [];
    for (const device of devices) {
      const slots = uri.slot
        ? [slotId(uri.slot)]
        : Object.values(SLOTS)
            .map((s) => s.id)
            .filter((id) => id !== 0xf9);
      for (const slot of slots) {
        const contents = await this.#resolver.slotContents(device, slot, true);
        if (contents.info || contents.certificate) result.push(this.#keyInfo(device, slot, contents));
      }
    }
    return result;
  }

  async delete(uriText: string): Promise<KeyInfo> {
    const uri = parseYubiKeyUri(uriText);
    const slot = requireSlot(uri, uriText, 'delete a key');
    const device = await this.#resolver.device(uri, uriText);
    const handle = await this.#handle(device, slot, true);
    if (!handle.info.hasPrivateKey) throw keywardError('KEY_NOT_FOUND', `slot ${slotLabel(uri.slot!)} of ${device.session.device} holds no key`);
    await device.session.deleteKey(slot);
    if (handle.info.hasCertificate) await device.session.deleteCertificate(slot);
    return handle.info;
  }

  async capabilities(uriText: string): Promise<Capabilities> {
    const uri = parseYubiKeyUri(uriText);
    const device = await this.#resolver.device(uri, uriText);
    return { algorithms: device.session.supports.algorithms, attestation: true, touch: true };
  }

  async close(): Promise<void> {
    await this.#resolver.close();
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
