/**
 * The PIV card commands of NIST SP 800-73-4 Part 2 §3, one small function each, over a channel.
 * They encode and decode; policy (PIN safety, which key is needed) lives in the session.
 */
import { keywardError } from '../../errors.js';
import type { PivChannel, CommandOptions } from './channel.js';
import { CardResponseError, statusError } from './errors.js';
import { INS, KEY_REFERENCE, padPin, PIN_LENGTH, PIN_MIN_LENGTH, PIV_AID, SW, TAG } from './spec.js';
import { concat, intBytes, parseTlvs, requireTlv, tlv, TlvError } from './tlv.js';
import { withArticle } from '../../words.js';

/** §3.1.1 SELECT: selects the PIV application (by the AID prefix; the card answers with its full AID). */
export async function select(channel: PivChannel, aid: Uint8Array = PIV_AID): Promise<Uint8Array> {
  return channel.send(INS.SELECT, 0x04, 0x00, aid, { operation: 'select the PIV application' });
}

/** A PIN or PUK padded for the card (§3.2.1); refuses what the card could never accept. */
function pinBlock(value: Uint8Array, what: 'PIN' | 'PUK'): Uint8Array {
  if (value.length < PIN_MIN_LENGTH || value.length > PIN_LENGTH) {
    throw keywardError(
      what === 'PUK' ? 'PUK_LENGTH' : 'PIN_LENGTH',
      `${withArticle(what)} has ${PIN_MIN_LENGTH} to ${PIN_LENGTH} characters; this one has ${value.length}`,
    );
  }
  return padPin(value);
}

export type VerifyStatus = { verified: true } | { verified: false; retriesLeft: number };

/**
 * §3.2.1 VERIFY with no data: asks whether the PIN is verified, and if not how many tries are left
 * (63Cx), without spending one.
 */
export async function verifyStatus(channel: PivChannel, reference: number = KEY_REFERENCE.PIN): Promise<VerifyStatus> {
  const { sw } = await channel.exchange(INS.VERIFY, 0x00, reference, new Uint8Array(), { operation: 'read the PIN status' });
  if (sw === SW.SUCCESS) return { verified: true };
  if ((sw & 0xfff0) === SW.VERIFY_FAIL) return { verified: false, retriesLeft: sw & 0x0f };
  if (sw === SW.AUTH_METHOD_BLOCKED) return { verified: false, retriesLeft: 0 };
  throw new CardResponseError(`the card answered the PIN status query with ${sw.toString(16)}`);
}

/** §3.2.1 VERIFY with the PIN. */
export async function verify(channel: PivChannel, pin: Uint8Array, ctx: Omit<CommandOptions, 'credential'>): Promise<void> {
  await channel.send(INS.VERIFY, 0x00, KEY_REFERENCE.PIN, pinBlock(pin, 'PIN'), { ...ctx, credential: 'PIN' });
}

/** §3.2.2 CHANGE REFERENCE DATA: old ‖ new, each padded. */
export async function changeReferenceData(channel: PivChannel, reference: 'PIN' | 'PUK', current: Uint8Array, next: Uint8Array): Promise<void> {
  await channel.send(
    INS.CHANGE_REFERENCE_DATA,
    0x00,
    reference === 'PIN' ? KEY_REFERENCE.PIN : KEY_REFERENCE.PUK,
    concat(pinBlock(current, reference), pinBlock(next, reference)),
    { operation: `change the ${reference}`, credential: reference },
  );
}

/** §3.2.3 RESET RETRY COUNTER: PUK ‖ new PIN. */
export async function resetRetryCounter(channel: PivChannel, puk: Uint8Array, newPin: Uint8Array): Promise<void> {
  await channel.send(INS.RESET_RETRY_COUNTER, 0x00, KEY_REFERENCE.PIN, concat(pinBlock(puk, 'PUK'), pinBlock(newPin, 'PIN')), {
    operation: 'unblock the PIN',
    credential: 'PUK',
  });
}

/**
 * §3.2.4 GENERAL AUTHENTICATE: a dynamic authentication template (7C) in, one out. Returns the
 * inner template's TLVs.
 */
export async function generalAuthenticate(
  channel: PivChannel,
  algorithm: number,
  keyReference: number,
  template: Uint8Array,
  ctx: CommandOptions,
): Promise<Map<number, Uint8Array>> {
  const response = await channel.send(INS.GENERAL_AUTHENTICATE, algorithm, keyReference, tlv(TAG.DYNAMIC_AUTHENTICATION, template), ctx);
  try {
    return new Map(parseTlvs(requireTlv(response, TAG.DYNAMIC_AUTHENTICATION, 'GENERAL AUTHENTICATE response')).map((t) => [t.tag, t.value]));
  } catch (cause) {
    throw new CardResponseError(`cannot ${ctx.operation}: the card's GENERAL AUTHENTICATE answer is malformed`, { cause });
  }
}

/** §3.1.2 GET DATA: the value of a data object, or undefined when the card has none (6A82). */
export async function getData(channel: PivChannel, objectId: number, ctx: Omit<CommandOptions, 'credential'>): Promise<Uint8Array | undefined> {
  const idBytes = objectId === 0x7e ? Uint8Array.of(0x7e) : intBytes(objectId, 3);
  const response = await channel.exchange(INS.GET_DATA, 0x3f, 0xff, tlv(TAG.OBJECT_ID, idBytes), ctx);
  if (response.sw === SW.FILE_NOT_FOUND) return undefined;
  if (response.sw !== SW.SUCCESS) throw statusError(response.sw, { ...ctx, device: ctx.device ?? channel.options.device });
  try {
    // The discovery object comes back as itself (7E …); every other object inside 53.
    if (objectId === 0x7e) return response.data;
    return requireTlv(response.data, TAG.OBJECT_DATA, 'GET DATA response');
  } catch (cause) {
    if (cause instanceof TlvError) throw new CardResponseError(`cannot ${ctx.operation}: the data object is malformed`, { cause });
    throw cause;
  }
}

/** §3.3.2 PUT DATA (needs the management key). An empty value deletes the object. */
export async function putData(channel: PivChannel, objectId: number, value: Uint8Array, ctx: Omit<CommandOptions, 'credential'>): Promise<void> {
  await channel.send(INS.PUT_DATA, 0x3f, 0xff, concat(tlv(TAG.OBJECT_ID, intBytes(objectId, 3)), tlv(TAG.OBJECT_DATA, value)), ctx);
}

/**
 * §3.3.3 GENERATE ASYMMETRIC KEY PAIR with Yubico's policy tags; returns the public key template
 * (7F49 contents: 86 point, or 81 modulus and 82 exponent).
 */
export async function generateAsymmetricKeyPair(
  channel: PivChannel,
  slot: number,
  algorithm: number,
  policies: { pin?: number; touch?: number },
  ctx: Omit<CommandOptions, 'credential'>,
): Promise<Map<number, Uint8Array>> {
  const template = concat(
    tlv(TAG.GENERATE_ALGORITHM, Uint8Array.of(algorithm)),
    policies.pin ? tlv(TAG.PIN_POLICY, Uint8Array.of(policies.pin)) : new Uint8Array(),
    policies.touch ? tlv(TAG.TOUCH_POLICY, Uint8Array.of(policies.touch)) : new Uint8Array(),
  );
  const response = await channel.send(INS.GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, slot, tlv(TAG.CONTROL_REFERENCE, template), ctx);
  try {
    return new Map(parseTlvs(requireTlv(response, TAG.PUBLIC_KEY, 'GENERATE response')).map((t) => [t.tag, t.value]));
  } catch (cause) {
    throw new CardResponseError(`cannot ${ctx.operation}: the card's public key template is malformed`, { cause });
  }
}
