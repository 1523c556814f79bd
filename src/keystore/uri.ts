/**
 * Key URIs in the grammar of RFC 7512 ("The PKCS #11 URI Scheme"):
 *
 *   scheme ":" path-attr *( ";" path-attr ) [ "?" query-attr *( "&" query-attr ) ]
 *
 * `pkcs11:` follows the RFC to the letter, so that URIs printed by p11tool, p11-kit or OpenSSL work
 * verbatim; `yubikey:` reuses the same grammar with its own attributes. Parsing is strict (an unknown
 * attribute is most likely a typo that would otherwise silently match the wrong key) and every fault
 * is reported with its position.
 */
import { UsageError } from '../errors.js';
import { Secret } from '../secret.js';

// RFC 7512 §2.3: pk11-unreserved, pk11-p-res-avail (path) and pk11-q-res-avail (query).
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PATH_RESERVED_AVAILABLE = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', '=', '&']);
const QUERY_RESERVED_AVAILABLE = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', '=', '/', '?', '|']);
/** What we leave unencoded when printing: unreserved everywhere, and "/" and ":" in query values. */
const QUERY_PRINTABLE = new Set(['/', ':']);

export type AttributeKind =
  | { kind: 'text' }
  | { kind: 'bytes' }
  | { kind: 'uint' }
  | { kind: 'version' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'secret' };

export interface AttributeSpec {
  /** The attribute's name in the URI. */
  name: string;
  /** The property that holds it in the parsed object. */
  field: string;
  type: AttributeKind;
  /** Printed as every byte %XX-encoded, as p11tool prints `id`. */
  alwaysPercentEncode?: boolean;
}

export interface UriSchemeSpec {
  scheme: string;
  /** How the scheme is named in messages: "PKCS#11 URI". */
  title: string;
  /** Path attributes, in the order they are printed. */
  path: readonly AttributeSpec[];
  query: readonly AttributeSpec[];
  /** Example used in hints. */
  example: string;
}

export type AttributeValue = string | number | Uint8Array | Secret;
export type ParsedAttributes = Record<string, AttributeValue | Record<string, string> | undefined> & {
  /** Vendor-specific attributes (`x-…`), kept verbatim and otherwise ignored. */
  vendor?: Record<string, string>;
};

export class UriError extends UsageError {
  /** 0-based offset of the fault in the original text. */
  readonly position: number;
  /** The URI as it may be shown: any pin-value replaced by "***". */
  readonly displayUri: string;
  /** Offset of the fault within `displayUri`. */
  readonly displayPosition: number;

  constructor(spec: UriSchemeSpec, input: string, position: number, reason: string, hint?: string) {
    const { display, displayPosition } = redactForDisplay(input, position);
    super('URI_MALFORMED', `malformed ${spec.title} at position ${position + 1}: ${reason}`, {
      hint: hint ?? `the form is ${spec.example}; see RFC 7512 for the grammar`,
      details: { uri: display, position, reason },
    });
    this.position = position;
    this.displayUri = display;
    this.displayPosition = displayPosition;
  }

  /** The URI with a caret under the fault, for terminals. */
  pointer(): string {
    return `  ${this.displayUri}\n  ${' '.repeat(this.displayPosition)}^`;
  }
}

/** Hide pin-value values from anything we show; keep the caret pointing at the same spot. */
function redactForDisplay(input: string, position: number): { display: string; displayPosition: number } {
  let display = input;
  let displayPosition = position;
  const pattern = /([?&]pin-value=)([^&]*)/g;
  let shift = 0;
  for (const match of input.matchAll(pattern)) {
    const valueStart = (match.index ?? 0) + match[1]!.length;
    const valueEnd = valueStart + match[2]!.length;
    const start = valueStart - shift;
    display = display.slice(0, start) + '***' + display.slice(start + match[2]!.length);
    if (position >= valueEnd) displayPosition -= match[2]!.length - 3;
    else if (position >= valueStart) displayPosition = valueStart - shift;
    shift += match[2]!.length - 3;
  }
  return { display, displayPosition };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function percentDecode(
  spec: UriSchemeSpec,
  input: string,
  start: number,
  end: number,
  allowed: Set<string>,
): Buffer {
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const ch = input[i]!;
    if (ch === '%') {
      const hex = input.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new UriError(spec, input, i, `"%" must be followed by two hex digits, found "${hex}"`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (UNRESERVED.test(ch) || allowed.has(ch)) {
      bytes.push(...Buffer.from(ch, 'utf8'));
    } else {
      const shown = ch === ' ' ? 'a space' : `"${ch}"`;
      throw new UriError(
        spec,
        input,
        i,
        `${shown} is not allowed here`,
        `percent-encode it as ${[...Buffer.from(ch, 'utf8')].map((b) => '%' + hex2(b)).join('')}`,
      );
    }
  }
  return Buffer.from(bytes);
}

function hex2(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

function decodeValue(
  spec: UriSchemeSpec,
  attr: AttributeSpec,
  raw: Buffer,
  input: string,
  valueStart: number,
): AttributeValue {
  const text = (): string => {
    try {
      return utf8.decode(raw);
    } catch {
      throw new UriError(spec, input, valueStart, `the value of "${attr.name}" is not valid UTF-8`);
    }
  };
  switch (attr.type.kind) {
    case 'bytes':
      return new Uint8Array(raw);
    case 'secret':
      return Secret.fromBytes(raw);
    case 'text':
      return text();
    case 'uint': {
      const value = text();
      if (!/^[0-9]{1,15}$/.test(value)) {
        throw new UriError(spec, input, valueStart, `"${attr.name}" must be a decimal number, found "${value}"`);
      }
      return Number(value);
    }
    case 'version': {
      const value = text();
      if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) {
        throw new UriError(spec, input, valueStart, `"${attr.name}" must look like "2" or "2.6", found "${value}"`);
      }
      return value;
    }
    case 'enum': {
      const value = text();
      if (!attr.type.values.includes(value)) {
        throw new UriError(
          spec,
          input,
          valueStart,
          `"${attr.name}" must be one of ${attr.type.values.join(', ')}; found "${value}"`,
        );
      }
      return value;
    }
  }
}

function parseAttributes(
  spec: UriSchemeSpec,
  input: string,
  start: number,
  end: number,
  separator: ';' | '&',
  known: readonly AttributeSpec[],
  allowed: Set<string>,
  out: ParsedAttributes,
  seen: Set<string>,
): void {
  if (start === end) return;
  let pos = start;
  while (pos <= end) {
    let next = input.indexOf(separator, pos);
    if (next === -1 || next > end) next = end;
    if (next === pos) {
      throw new UriError(spec, input, pos, `empty attribute (two "${separator}" in a row, or one at the end)`);
    }
    const eq = input.indexOf('=', pos);
    if (eq === -1 || eq > next) {
      throw new UriError(spec, input, pos, `attribute "${input.slice(pos, next)}" has no "=value"`);
    }
    const name = input.slice(pos, eq);
    const valueStart = eq + 1;
    const attr = known.find((a) => a.name === name);
    if (!attr && !name.startsWith('x-')) {
      const otherPart = (separator === ';' ? spec.query : spec.path).find((a) => a.name === name);
      const hint = otherPart
        ? `"${name}" belongs in the ${separator === ';' ? 'query, after "?"' : 'path, before "?"'}`
        : `known ${separator === ';' ? 'path' : 'query'} attributes: ${known.map((a) => a.name).join(', ')}`;
      throw new UriError(spec, input, pos, `unknown attribute "${name}"`, hint);
    }
    if (seen.has(name)) {
      throw new UriError(spec, input, pos, `attribute "${name}" appears more than once`);
    }
    seen.add(name);
    const raw = percentDecode(spec, input, valueStart, next, allowed);
    if (attr) out[attr.field] = decodeValue(spec, attr, raw, input, valueStart);
    else out.vendor = { ...(out.vendor ?? {}), [name]: raw.toString('utf8') };
    pos = next + 1;
    if (next === end) break;
  }
}

export function parseUri(spec: UriSchemeSpec, input: string): ParsedAttributes {
  const prefix = `${spec.scheme}:`;
  if (typeof input !== 'string' || !input.toLowerCase().startsWith(prefix)) {
    throw new UriError(spec, String(input), 0, `a ${spec.title} starts with "${prefix}"`);
  }
  const out: ParsedAttributes = {};
  const seen = new Set<string>();
  const question = input.indexOf('?', prefix.length);
  const pathEnd = question === -1 ? input.length : question;
  parseAttributes(spec, input, prefix.length, pathEnd, ';', spec.path, PATH_RESERVED_AVAILABLE, out, seen);
  if (question !== -1) {
    parseAttributes(spec, input, question + 1, input.length, '&', spec.query, QUERY_RESERVED_AVAILABLE, out, seen);
  }
  return out;
}

function isVendorMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Secret);
}

function encodeValue(value: Uint8Array, printable: Set<string>, alwaysEncode: boolean): string {
  let result = '';
  for (const byte of value) {
    const ch = String.fromCharCode(byte);
    result += !alwaysEncode && byte < 0x80 && (UNRESERVED.test(ch) || printable.has(ch)) ? ch : '%' + hex2(byte);
  }
  return result;
}

function valueBytes(value: AttributeValue): Uint8Array | undefined {
  if (value instanceof Secret) return undefined; // secrets are never printed
  if (value instanceof Uint8Array) return value;
  return Buffer.from(String(value), 'utf8');
}

export function formatUri(spec: UriSchemeSpec, attrs: ParsedAttributes): string {
  const render = (list: readonly AttributeSpec[], printable: Set<string>): string[] =>
    list.flatMap((attr) => {
      const value = attrs[attr.field];
      if (value === undefined || isVendorMap(value)) return [];
      const bytes = valueBytes(value as AttributeValue);
      return bytes ? [`${attr.name}=${encodeValue(bytes, printable, attr.alwaysPercentEncode ?? false)}`] : [];
    });
  const path = render(spec.path, new Set());
  const query = render(spec.query, QUERY_PRINTABLE);
  return `${spec.scheme}:${path.join(';')}${query.length ? '?' + query.join('&') : ''}`;
}

/** A key URI as it may appear in a message or log: never with its pin-value. */
export function redactUri(uriText: string): string {
  return redactForDisplay(uriText, 0).display;
}

/** The scheme of a key URI ("pkcs11", "yubikey"), or undefined when the text is not a URI. */
export function uriScheme(input: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(input);
  return match ? match[1]!.toLowerCase() : undefined;
}

// ---------------------------------------------------------------------------------------------
// pkcs11: (RFC 7512 §2.3)

export const PKCS11_OBJECT_TYPES = ['public', 'private', 'cert', 'secret-key', 'data'] as const;
export type Pkcs11ObjectType = (typeof PKCS11_OBJECT_TYPES)[number];

export interface Pkcs11Uri {
  // token and library (path)
  model?: string;
  manufacturer?: string;
  serial?: string;
  token?: string;
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: string;
  slotDescription?: string;
  slotManufacturer?: string;
  slotId?: number;
  // object (path)
  id?: Uint8Array;
  object?: string;
  type?: Pkcs11ObjectType;
  // query
  pinSource?: string;
  /** Accepted because the RFC defines it, but a PIN in a URI ends up in shell history: warned about. */
  pinValue?: Secret;
  moduleName?: string;
  modulePath?: string;
  vendor?: Record<string, string>;
}

const text = { kind: 'text' } as const;

export const PKCS11_URI: UriSchemeSpec = {
  scheme: 'pkcs11',
  title: 'PKCS#11 URI',
  example: '"pkcs11:token=my-token;object=my-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so"',
  // Printed in the order p11tool prints them.
  path: [
    { name: 'model', field: 'model', type: text },
    { name: 'manufacturer', field: 'manufacturer', type: text },
    { name: 'serial', field: 'serial', type: text },
    { name: 'token', field: 'token', type: text },
    { name: 'library-manufacturer', field: 'libraryManufacturer', type: text },
    { name: 'library-description', field: 'libraryDescription', type: text },
    { name: 'library-version', field: 'libraryVersion', type: { kind: 'version' } },
    { name: 'slot-description', field: 'slotDescription', type: text },
    { name: 'slot-manufacturer', field: 'slotManufacturer', type: text },
    { name: 'slot-id', field: 'slotId', type: { kind: 'uint' } },
    { name: 'id', field: 'id', type: { kind: 'bytes' }, alwaysPercentEncode: true },
    { name: 'object', field: 'object', type: text },
    { name: 'type', field: 'type', type: { kind: 'enum', values: PKCS11_OBJECT_TYPES } },
  ],
  query: [
    { name: 'pin-source', field: 'pinSource', type: text },
    { name: 'pin-value', field: 'pinValue', type: { kind: 'secret' } },
    { name: 'module-name', field: 'moduleName', type: text },
    { name: 'module-path', field: 'modulePath', type: text },
  ],
};

export function parsePkcs11Uri(input: string): Pkcs11Uri {
  return parseUri(PKCS11_URI, input) as Pkcs11Uri;
}

/** Prints a URI that p11tool, p11-kit and OpenSSL's pkcs11 engine accept. Never prints pin-value. */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  return formatUri(PKCS11_URI, uri as ParsedAttributes);
}

// ---------------------------------------------------------------------------------------------
// yubikey: the same grammar, naming a YubiKey (by serial or reader) and a PIV slot.

export const YUBIKEY_SLOT_NAMES = ['9a', '9c', '9d', '9e', ...Array.from({ length: 20 }, (_, i) => (0x82 + i).toString(16))] as const;

export interface YubiKeyUri {
  serial?: number;
  /** PIV slot, two hex digits: 9a, 9c, 9d, 9e, 82–95. */
  slot?: string;
  /** PC/SC reader name (exact). */
  reader?: string;
  pinSource?: string;
  pinValue?: Secret;
  /** File holding the management key in hex. */
  managementKeySource?: string;
  vendor?: Record<string, string>;
}

export const YUBIKEY_URI: UriSchemeSpec = {
  scheme: 'yubikey',
  title: 'YubiKey URI',
  example: '"yubikey:serial=12345678;slot=9c?pin-source=file:/run/keyward/pin"',
  path: [
    { name: 'serial', field: 'serial', type: { kind: 'uint' } },
    { name: 'slot', field: 'slot', type: { kind: 'enum', values: YUBIKEY_SLOT_NAMES } },
    { name: 'reader', field: 'reader', type: text },
  ],
  query: [
    { name: 'pin-source', field: 'pinSource', type: text },
    { name: 'pin-value', field: 'pinValue', type: { kind: 'secret' } },
    { name: 'management-key-source', field: 'managementKeySource', type: text },
  ],
};

export function parseYubiKeyUri(input: string): YubiKeyUri {
  // Slots are hex: accept 9C as well as 9c.
  const uri = parseUri(YUBIKEY_URI, input.replace(/(;|:)slot=([0-9A-Fa-f]{2})(?=;|\?|$)/, (_, sep: string, slot: string) => `${sep}slot=${slot.toLowerCase()}`)) as YubiKeyUri;
  return uri;
}

export function formatYubiKeyUri(uri: YubiKeyUri): string {
  return formatUri(YUBIKEY_URI, uri as ParsedAttributes);
}

// ---------------------------------------------------------------------------------------------

/** Parses a key URI of any scheme Keyward knows; refuses other text. */
export function parseKeyUri(input: string): Pkcs11Uri | YubiKeyUri {
  const scheme = uriScheme(input);
  if (scheme === 'pkcs11') return parsePkcs11Uri(input);
  if (scheme === 'yubikey') return parseYubiKeyUri(input);
  throw new UsageError('URI_SCHEME_UNSUPPORTED', scheme ? `"${scheme}:" is not a key URI scheme Keyward knows` : `"${redactUri(input)}" is not a key URI`, {
    hint: 'key URIs start with "pkcs11:" or "yubikey:", e.g. "pkcs11:token=ca;object=root"',
  });
}
