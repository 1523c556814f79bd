/**
 * BER-TLV as PIV uses it (SP 800-73-4 Part 2 §3, ISO 7816-4 §5.2): tags of one to three bytes,
 * lengths in short form or long form up to three length bytes. Tags are numbers of their raw bytes
 * (0x7F49, 0x5FC102).
 */

export class TlvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlvError';
  }
}

export interface Tlv {
  tag: number;
  value: Uint8Array;
}

function tagBytes(tag: number): number[] {
  if (tag < 0 || tag > 0xffffff || !Number.isInteger(tag)) throw new TlvError(`tag 0x${tag.toString(16)} is out of range`);
  if (tag <= 0xff) return [tag];
  if (tag <= 0xffff) return [tag >> 8, tag & 0xff];
  return [tag >> 16, (tag >> 8) & 0xff, tag & 0xff];
}

export function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  if (length <= 0xff) return [0x81, length];
  if (length <= 0xffff) return [0x82, length >> 8, length & 0xff];
  if (length <= 0xffffff) return [0x83, length >> 16, (length >> 8) & 0xff, length & 0xff];
  throw new TlvError(`length ${length} is too long for a TLV`);
}

export function tlv(tag: number, ...values: Uint8Array[]): Uint8Array {
  const value = values.length === 1 ? values[0]! : concat(...values);
  return concat(Uint8Array.from([...tagBytes(tag), ...encodeLength(value.length)]), value);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Parses a sequence of TLVs that must fill `data` exactly. */
export function parseTlvs(data: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < data.length) {
    const start = i;
    let tag = data[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      // Subsequent tag bytes while bit 8 is set (ISO 7816-4 §5.2.2.1).
      let more = true;
      let count = 0;
      while (more) {
        if (i >= data.length) throw new TlvError(`truncated tag at offset ${start}`);
        if (++count > 2) throw new TlvError(`tag longer than 3 bytes at offset ${start}`);
        const byte = data[i++]!;
        tag = (tag << 8) | byte;
        more = (byte & 0x80) !== 0;
      }
    }
    if (i >= data.length) throw new TlvError(`missing length for tag 0x${tag.toString(16)} at offset ${start}`);
    let length = data[i++]!;
    if (length === 0x80 || length > 0x83) {
      throw new TlvError(`unsupported length byte 0x${length.toString(16)} for tag 0x${tag.toString(16)}`);
    }
    if (length > 0x80) {
      const count = length & 0x7f;
      if (i + count > data.length) throw new TlvError(`truncated length for tag 0x${tag.toString(16)}`);
      length = 0;
      for (let k = 0; k < count; k++) length = (length << 8) | data[i++]!;
    }
    if (i + length > data.length) {
      throw new TlvError(`tag 0x${tag.toString(16)} claims ${length} bytes but only ${data.length - i} remain`);
    }
    out.push({ tag, value: data.subarray(i, i + length) });
    i += length;
  }
  return out;
}

/** The first value with `tag`, or undefined. */
export function findTlv(data: Uint8Array, tag: number): Uint8Array | undefined {
  return parseTlvs(data).find((t) => t.tag === tag)?.value;
}

/** The value of `tag`, or a TlvError naming what was expected. */
export function requireTlv(data: Uint8Array, tag: number, what: string): Uint8Array {
  const value = findTlv(data, tag);
  if (value === undefined) throw new TlvError(`${what}: tag 0x${tag.toString(16)} is missing`);
  return value;
}

export function tlvMap(data: Uint8Array): Map<number, Uint8Array> {
  return new Map(parseTlvs(data).map((t) => [t.tag, t.value]));
}

/** Big-endian bytes of a non-negative integer, `size` bytes long (or minimal when omitted). */
export function intBytes(value: number, size?: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  while (size !== undefined && bytes.length < size) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

export function bytesInt(bytes: Uint8Array): number {
  return bytes.reduce((n, b) => n * 256 + b, 0);
}
