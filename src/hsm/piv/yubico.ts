/**
 * Yubico's PIV extensions (developers.yubico.com "PIV commands"): version, serial, management key,
 * import, attestation, metadata, PIN retries, reset, and moving/deleting keys (5.7).
 */
import type { PivChannel } from './channel.js';
import { CardResponseError, statusError } from './errors.js';
import { INS, KEY_REFERENCE, SW, TAG, type Version } from './spec.js';
import { bytesInt, concat, tlv, tlvMap } from './tlv.js';

export async function getVersion(channel: PivChannel): Promise<Version> {
  const data = await channel.send(INS.GET_VERSION, 0x00, 0x00, new Uint8Array(), { operation: 'read the firmware version' });
  if (data.length !== 3) throw new CardResponseError(`the card's version answer has ${data.length} bytes, not 3`);
  return [data[0]!, data[1]!, data[2]!];
}

/** 5.0+: the device serial (4 bytes, big-endian). */
export async function getSerial(channel: PivChannel): Promise<number> {
  const data = await channel.send(INS.GET_SERIAL, 0x00, 0x00, new Uint8Array(), { operation: 'read the serial number' });
  if (data.length !== 4) throw new CardResponseError(`the card's serial answer has ${data.length} bytes, not 4`);
  return bytesInt(data);
}

/** Sets the management key: P2 0xFE requires a touch for every authentication with it. */
export async function setManagementKey(channel: PivChannel, algorithm: number, key: Uint8Array, requireTouch: boolean): Promise<void> {
  await channel.send(INS.SET_MANAGEMENT_KEY, 0xff, requireTouch ? 0xfe : 0xff, concat(Uint8Array.of(algorithm), tlv(KEY_REFERENCE.MANAGEMENT_KEY, key)), {
    operation: 'set the management key',
  });
}

export interface RawMetadata {
  algorithm?: number;
  pinPolicy?: number;
  touchPolicy?: number;
  origin?: number;
  /** Public key template contents (86, or 81 and 82). */
  publicKey?: Map<number, Uint8Array>;
  isDefault?: boolean;
  retries?: { total: number; remaining: number };
}

/** 5.3+: metadata of a slot, the PIN (80), PUK (81) or management key (9B). Undefined if the slot is empty. */
export async function getMetadata(channel: PivChannel, reference: number): Promise<RawMetadata | undefined> {
  const ctx = { operation: `read the metadata of 0x${reference.toString(16)}` };
  const response = await channel.exchange(INS.GET_METADATA, 0x00, reference, new Uint8Array(), ctx);
  if (response.sw === SW.REFERENCE_NOT_FOUND) return undefined; // an empty slot
  if (response.sw !== SW.SUCCESS) throw statusError(response.sw, { ...ctx, device: channel.options.device });
  return parseMetadata(response.data);
}

export function parseMetadata(data: Uint8Array): RawMetadata {
  try {
    const map = tlvMap(data);
    const policy = map.get(TAG.METADATA_POLICY);
    const retries = map.get(TAG.METADATA_RETRIES);
    const origin = map.get(TAG.METADATA_ORIGIN);
    const algorithm = map.get(TAG.METADATA_ALGORITHM);
    const isDefault = map.get(TAG.METADATA_IS_DEFAULT);
    const publicKey = map.get(TAG.METADATA_PUBLIC_KEY);
    return {
      algorithm: algorithm?.[0],
      pinPolicy: policy?.[0],
      touchPolicy: policy?.[1],
      origin: origin?.[0],
      publicKey: publicKey ? tlvMap(publicKey) : undefined,
      isDefault: isDefault ? isDefault[0] !== 0 : undefined,
      retries: retries && retries.length >= 2 ? { total: retries[0]!, remaining: retries[1]! } : undefined,
    };
  } catch (cause) {
    throw new CardResponseError("the card's metadata is malformed", { cause });
  }
}

/** The attestation certificate (DER) for the key in a slot, signed by the device's slot-F9 key. */
export async function attest(channel: PivChannel, slot: number): Promise<Uint8Array> {
  return channel.send(INS.ATTEST, slot, 0x00, new Uint8Array(), { operation: `attest the key in slot ${slot.toString(16)}` });
}

/** Sets PIN and PUK retry counts (needs management key and PIN); resets both to their defaults. */
export async function setPinRetries(channel: PivChannel, pinTries: number, pukTries: number): Promise<void> {
  await channel.send(INS.SET_PIN_RETRIES, pinTries, pukTries, new Uint8Array(), { operation: 'set the PIN retries' });
}

/** Resets the PIV application; the card allows it only with PIN and PUK both blocked. */
export async function reset(channel: PivChannel): Promise<void> {
  await channel.send(INS.RESET, 0x00, 0x00, new Uint8Array(), { operation: 'reset the PIV application' });
}

/** 5.7+: deletes the key in a slot. */
export async function deleteKey(channel: PivChannel, slot: number): Promise<void> {
  await channel.send(INS.MOVE_KEY, 0xff, slot, new Uint8Array(), { operation: `delete the key in slot ${slot.toString(16)}` });
}

/** Imports a private key (EC: 06 d; RSA: 01 p 02 q 03 dp 04 dq 05 qinv) with policies. */
export async function importKey(
  channel: PivChannel,
  slot: number,
  algorithm: number,
  components: Uint8Array,
  policies: { pin?: number; touch?: number },
): Promise<void> {
  const data = concat(
    components,
    policies.pin ? tlv(TAG.PIN_POLICY, Uint8Array.of(policies.pin)) : new Uint8Array(),
    policies.touch ? tlv(TAG.TOUCH_POLICY, Uint8Array.of(policies.touch)) : new Uint8Array(),
  );
  await channel.send(INS.IMPORT_KEY, algorithm, slot, data, { operation: `import a key into slot ${slot.toString(16)}` });
}
