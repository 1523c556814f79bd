/**
 * Command and response APDUs (ISO 7816-4 §5.1): short and extended encodings, command chaining
 * (CLA 0x10) and response chaining (61xx + GET RESPONSE). Both the driver and the virtual card use
 * this codec.
 */
import { CLA_CHAINING, INS, SW } from './spec.js';

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  /** Ne: how many response bytes are expected (0 = none requested; 256/65536 = maximum). */
  ne: number;
  /** Whether the command was encoded with extended lengths. */
  extended: boolean;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export class ApduFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApduFormatError';
  }
}

/** Short APDU (data ≤ 255 bytes): CLA INS P1 P2 [Lc data] [Le]. Le 0x00 asks for up to 256 bytes. */
export function encodeCommand(cla: number, ins: number, p1: number, p2: number, data: Uint8Array = new Uint8Array(), le?: number): Uint8Array {
  if (data.length > 255) throw new ApduFormatError(`a short APDU carries at most 255 bytes, not ${data.length}`);
  const header = [cla, ins, p1, p2];
  const body = data.length > 0 ? [data.length, ...data] : [];
  const trailer = le === undefined ? [] : [le & 0xff];
  return Uint8Array.from([...header, ...body, ...trailer]);
}

/**
 * Splits a command into a chain of short APDUs (CLA | 0x10 on all but the last block), so that any
 * amount of data can be sent to a card that only takes short APDUs.
 */
export function chainCommand(cla: number, ins: number, p1: number, p2: number, data: Uint8Array, blockSize = 255): Uint8Array[] {
  if (data.length <= blockSize) return [encodeCommand(cla, ins, p1, p2, data)];
  const blocks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += blockSize) {
    const last = offset + blockSize >= data.length;
    blocks.push(encodeCommand(last ? cla : cla | CLA_CHAINING, ins, p1, p2, data.subarray(offset, offset + blockSize)));
  }
  return blocks;
}

export const GET_RESPONSE = (length: number) => encodeCommand(0x00, INS.GET_RESPONSE, 0x00, 0x00, undefined, length);

/** Parses a command APDU in any of the four ISO cases, short or extended. */
export function parseCommand(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new ApduFormatError(`an APDU has at least 4 bytes, got ${bytes.length}`);
  const [cla, ins, p1, p2] = bytes as unknown as [number, number, number, number];
  const base = { cla, ins, p1, p2 };
  const body = bytes.subarray(4);
  if (body.length === 0) return { ...base, data: new Uint8Array(), ne: 0, extended: false }; // case 1
  if (body.length === 1) return { ...base, data: new Uint8Array(), ne: body[0] === 0 ? 256 : body[0]!, extended: false }; // case 2S
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (body.length === 1 + lc) return { ...base, data: body.subarray(1), ne: 0, extended: false }; // case 3S
    if (body.length === 2 + lc) return { ...base, data: body.subarray(1, 1 + lc), ne: body[1 + lc] === 0 ? 256 : body[1 + lc]!, extended: false }; // 4S
    throw new ApduFormatError(`Lc says ${lc} bytes of data but the APDU carries ${body.length - 1}`);
  }
  // Extended: a 0x00 marker, then two-byte lengths.
  if (body.length === 3) {
    const le = (body[1]! << 8) | body[2]!;
    return { ...base, data: new Uint8Array(), ne: le === 0 ? 65536 : le, extended: true }; // case 2E
  }
  if (body.length < 3) throw new ApduFormatError('truncated extended length');
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) throw new ApduFormatError('an extended Lc of zero is not allowed');
  if (body.length === 3 + lc) return { ...base, data: body.subarray(3), ne: 0, extended: true }; // case 3E
  if (body.length === 5 + lc) {
    const le = (body[3 + lc]! << 8) | body[4 + lc]!;
    return { ...base, data: body.subarray(3, 3 + lc), ne: le === 0 ? 65536 : le, extended: true }; // case 4E
  }
  throw new ApduFormatError(`extended Lc says ${lc} bytes of data but the APDU carries ${body.length - 3}`);
}

export function parseResponse(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new ApduFormatError(`a response has at least the two status bytes, got ${bytes.length} byte(s)`);
  return { data: bytes.subarray(0, bytes.length - 2), sw: (bytes[bytes.length - 2]! << 8) | bytes[bytes.length - 1]! };
}

export function encodeResponse(data: Uint8Array, sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export const isBytesRemaining = (sw: number) => (sw & 0xff00) === SW.BYTES_REMAINING;

export function hexSw(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}
