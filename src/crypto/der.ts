/**
 * DER (X.690) read and written directly, for the few structures on a hot path: an ECDSA signature
 * on every device signature, and a CA's per-certificate parts (a CSR read, a TBSCertificate
 * written), where the schema libraries cost hundreds of microseconds a certificate. Only
 * single-byte tags and definite lengths of up to 16 MiB; the reader accepts DER alone (lengths in
 * their shortest form), so what it accepts is what it would write. Anything more goes through
 * @peculiar/asn1-schema, and tests compare the two byte for byte.
 */

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

/** [n] constructed, context-specific (EXPLICIT tagging, or IMPLICIT over a constructed type). */
export const contextConstructed = (n: number) => 0xa0 | n;
/** [n] primitive, context-specific (IMPLICIT over a primitive type: a dNSName is [2]). */
export const contextPrimitive = (n: number) => 0x80 | n;

/** One element: its tag, where its header begins, and where its contents begin and end. */
export interface DerElement {
  tag: number;
  offset: number;
  start: number;
  end: number;
}

/** The element at `offset`, ending by `limit`; undefined unless it is well-formed DER there. */
export function readDer(der: Uint8Array, offset: number, limit = der.length): DerElement | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // a multi-byte tag: none here
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // Long form only when needed, without leading zeros (X.690 §10.1); 0x80 alone is BER's indefinite length.
    if (octets < 1 || octets > 3 || start + octets > limit || der[start] === 0) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    if (length < 0x80) return undefined;
    start += octets;
  }
  const end = start + length;
  return end <= limit ? { tag, offset, start, end } : undefined;
}

/** The element at `offset` if it has `tag`. */
export function readTagged(der: Uint8Array, offset: number, tag: number, limit = der.length): DerElement | undefined {
  const element = readDer(der, offset, limit);
  return element?.tag === tag ? element : undefined;
}

/** The elements inside a constructed one, in order; undefined unless they fill it exactly. */
export function readChildren(der: Uint8Array, parent: DerElement): DerElement[] | undefined {
  const children: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = readDer(der, offset, parent.end);
    if (!child) return undefined;
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** An element's contents. */
export const contentsOf = (der: Uint8Array, element: DerElement) => der.subarray(element.start, element.end);
/** An element whole, header and contents. */
export const elementBytes = (der: Uint8Array, element: DerElement) => der.subarray(element.offset, element.end);

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return [0x80 | octets.length, ...octets];
}

/** An element of `tag` around `contents` (already DER), concatenated. */
export function derEncode(tag: number, ...contents: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of contents) length += part.length;
  const header = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  let offset = header.length;
  for (const part of contents) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Minimal two's-complement contents of an unsigned big-endian number (a DER INTEGER's). */
export function positiveIntegerContents(value: Uint8Array): Uint8Array {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  if ((value[start]! & 0x80) === 0) return value.subarray(start);
  const out = new Uint8Array(value.length - start + 1);
  out.set(value.subarray(start), 1);
  return out;
}

/** An OBJECT IDENTIFIER's contents → its dotted form; undefined unless minimally encoded. */
export function oidToString(contents: Uint8Array): string | undefined {
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < contents.length; i++) {
    const byte = contents[i]!;
    if (value === 0 && byte === 0x80) return undefined; // a leading 0x80 pads an arc
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  if (arcs.length === 0 || (contents[contents.length - 1]! & 0x80) !== 0) return undefined;
  const first = arcs.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** An OBJECT IDENTIFIER, whole, from its dotted form. */
export function derOid(oid: string): Uint8Array {
  const [a, b, ...rest] = oid.split('.').map(Number);
  const contents: number[] = [];
  for (const arc of [a! * 40 + b!, ...rest]) {
    const groups = [arc % 128];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) groups.unshift(0x80 | (value % 128));
    contents.push(...groups);
  }
  return derEncode(TAG.OID, Uint8Array.from(contents));
}

const two = (n: number) => String(n).padStart(2, '0');

/**
 * A certificate's Time (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, to
 * the second, in UTC.
 */
export function derTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year > 2049
    ? derEncode(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'))
    : derEncode(TAG.UTC_TIME, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'));
}
