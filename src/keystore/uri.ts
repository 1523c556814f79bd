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
import { keywardError, UsageError } from '../errors.js';
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

/** The longest URI accepted: p11tool prints a few hundred characters; more is a mistake or an attack. */
export const MAX_URI_LENGTH = 4096;
/** The most attributes one URI may carry (PKCS#11 defines 17; the rest can only be vendor attributes). */
export const MAX_URI_ATTRIBUTES = 64;
/** A URI up to this long is shown whole in an error; a longer one as an excerpt around the fault. */
const SHOWN_WHOLE = 512;
const SHOWN_AROUND_FAULT = 120;

export class UriError extends UsageError {
  /** 0-based offset of the fault in the original text. */
  readonly position: number;
  /** The URI as it may be shown: secret values replaced by "***", an excerpt when very long. */
  readonly displayUri: string;
  /** Offset of the fault within `displayUri`. */
  readonly displayPosition: number;

  constructor(spec: UriSchemeSpec, input: string, position: number, reason: string, hint?: string) {
    const redacted = redactForDisplay(input, position);
    // A reason may quote the text at the fault: inside a secret value that would be the PIN itself.
    const fault = redacted.faultInSecret === undefined
      ? { reason, hint: hint ?? `the form is ${spec.example}; see RFC 7512 for the grammar` }
      : {
          reason: `a fault inside the value of "${redacted.faultInSecret}" (not shown: it may hold a PIN)`,
          hint: 'percent-encode the PIN\'s ";", "&", "?", "%" and spaces, or better, keep it out of the URI: pin-source=file:/path',
        };
    const shown = excerpt(redacted.display, redacted.displayPosition);
    super('URI_MALFORMED', `malformed ${spec.title} at position ${redacted.displayPosition + 1}: ${fault.reason}`, {
      hint: fault.hint,
      details: { uri: shown.text, position: redacted.displayPosition, reason: fault.reason },
    });
    this.position = position;
    this.displayUri = shown.text;
    this.displayPosition = shown.position;
  }

  /** The URI with a caret under the fault, for terminals. */
  pointer(): string {
    return `  ${this.displayUri}\n  ${' '.repeat(this.displayPosition)}^`;
  }
}

/** At most SHOWN_AROUND_FAULT characters either side of `position`, marked "…" where cut. */
function excerpt(display: string, position: number): { text: string; position: number } {
  if (display.length <= SHOWN_WHOLE) return { text: display, position };
  const start = Math.max(0, position - SHOWN_AROUND_FAULT);
  const end = Math.min(display.length, position + SHOWN_AROUND_FAULT);
  const lead = start > 0 ? '…' : '';
  return { text: `${lead}${display.slice(start, end)}${end < display.length ? '…' : ''}`, position: position - start + lead.length };
}

// ---------------------------------------------------------------------------------------------
// Redaction: what of a URI may be shown. It works on any text, malformed or not, because it runs
// exactly when something is wrong with the URI.

/** After percent-decoding, lower-casing and dropping punctuation, a name holding one of these holds a secret. */
const SECRET_NAME = /pin|puk|pass|secret/;
/** Where an attribute can start in a URI written by a person: after any separator, in either part. */
const SEPARATORS = new Set([';', '&', '?']);
/** What follows a separator when a new attribute starts there (attribute names start with a letter). */
const ATTRIBUTE_START = /[A-Za-z][A-Za-z0-9%_.~-]*=/y;

/**
 * Whether an attribute's name says its value is secret: pin-value, PIN-VALUE, pin%2Dvalue, pinvalue,
 * pin_value, pin-valu, x-pin … but not pin-source (a file path, like management-key-source).
 */
function namesSecret(rawName: string): boolean {
  let name = rawName;
  for (let pass = 0; pass < 3 && name.includes('%'); pass++) {
    name = name.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  const letters = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_NAME.test(letters) && !letters.endsWith('source');
}

/**
 * Where a secret value that starts at `from` ends. It runs to the separator the parser would stop at
 * (";" or the first "?" in the path, "&" in the query) when a new attribute starts after it; text
 * after a separator that starts no attribute ("1234&56") is taken as more of the secret.
 */
function secretValueEnd(text: string, from: number, pathEnd: number): number {
  for (let p = from; p < text.length; p++) {
    const separates = p < pathEnd ? text[p] === ';' : p === pathEnd || text[p] === '&';
    if (!separates) continue;
    ATTRIBUTE_START.lastIndex = p + 1;
    if (ATTRIBUTE_START.test(text)) return p;
  }
  return text.length;
}

interface SecretSpan {
  start: number;
  end: number;
  name: string;
}

/** The values of every attribute whose name looks secret, wherever it stands, in one pass. */
function secretSpans(text: string): SecretSpan[] {
  const spans: SecretSpan[] = [];
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(text);
  const firstAttribute = scheme ? scheme[0].length : 0;
  const question = text.indexOf('?', firstAttribute);
  const pathEnd = question === -1 ? text.length : question;
  let start = firstAttribute;
  while (start < text.length) {
    let p = start;
    let equals = -1;
    while (p < text.length && !SEPARATORS.has(text[p]!)) {
      if (equals === -1 && text[p] === '=') equals = p;
      p++;
    }
    if (equals !== -1 && namesSecret(text.slice(start, equals))) {
      const end = secretValueEnd(text, equals + 1, pathEnd);
      if (end > equals + 1) spans.push({ start: equals + 1, end, name: text.slice(start, equals) });
      p = end;
    }
    start = p + 1;
  }
  return spans;
}

/**
 * The one redaction of URIs: every secret value becomes "***". `position` (an offset in `text`) is
 * moved to the same spot in the result; `faultInSecret` names the attribute when it falls inside a
 * secret value.
 */
function redactForDisplay(text: string, position: number): { display: string; displayPosition: number; faultInSecret?: string } {
  let display = '';
  let copied = 0;
  let displayPosition = position;
  let faultInSecret: string | undefined;
  for (const span of secretSpans(text)) {
    display += `${text.slice(copied, span.start)}***`;
    copied = span.end;
    if (position >= span.end) displayPosition -= span.end - span.start - 3;
    else if (position >= span.start) {
      displayPosition = display.length - 3;
      faultInSecret = span.name;
    }
  }
  display += text.slice(copied);
  return { display, displayPosition, ...(faultInSecret === undefined ? {} : { faultInSecret }) };
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
  // A value quoted back may hold a smuggled "&pin-value=…": quote it redacted.
  const found = (value: string): string => `found "${redactUri(value)}"`;
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
        throw new UriError(spec, input, valueStart, `"${attr.name}" must be a decimal number, ${found(value)}`);
      }
      return Number(value);
    }
    case 'version': {
      const value = text();
      if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) {
        throw new UriError(spec, input, valueStart, `"${attr.name}" must look like "2" or "2.6", ${found(value)}`);
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
          `"${attr.name}" must be one of ${attr.type.values.join(', ')}; ${found(value)}`,
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
    if (seen.size === MAX_URI_ATTRIBUTES) {
      throw new UriError(spec, input, pos, `more attributes than the limit of ${MAX_URI_ATTRIBUTES}`, 'a key URI needs a handful of attributes; check how this one was built');
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
    else (out.vendor ??= {})[name] = raw.toString('utf8');
    pos = next + 1;
    if (next === end) break;
  }
}

export function parseUri(spec: UriSchemeSpec, input: string): ParsedAttributes {
  const prefix = `${spec.scheme}:`;
  if (typeof input !== 'string' || !input.toLowerCase().startsWith(prefix)) {
    throw new UriError(spec, String(input), 0, `a ${spec.title} starts with "${prefix}"`);
  }
  if (input.length > MAX_URI_LENGTH) {
    throw new UriError(spec, input, MAX_URI_LENGTH, `the URI is ${input.length} characters long; the limit is ${MAX_URI_LENGTH}`, 'a key URI names a key in a few hundred characters; check how this one was built');
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

/**
 * A key URI (or text meant to be one) as it may appear in a message or log: without the value of
 * any attribute that looks like a PIN, however it is spelt or placed.
 */
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

/** The schemes of key URIs, each served by a keystore backend. */
export const KEY_URI_SCHEMES = ['pkcs11', 'yubikey'] as const;
export type KeyUriScheme = (typeof KEY_URI_SCHEMES)[number];

/** The scheme of a key URI, or undefined when the text is none (a file path, say). */
export function keyUriScheme(input: string): KeyUriScheme | undefined {
  const scheme = uriScheme(input);
  return KEY_URI_SCHEMES.find((known) => known === scheme);
}

/** The scheme of a key URI; refuses any other text. */
export function requireKeyUriScheme(input: string): KeyUriScheme {
  const known = keyUriScheme(input);
  if (known) return known;
  const scheme = uriScheme(input);
  throw keywardError('URI_SCHEME_UNSUPPORTED', scheme ? `"${scheme}:" is not a key URI scheme Keyward knows` : `"${redactUri(input)}" is not a key URI`, {
    hint: `key URIs start with ${KEY_URI_SCHEMES.map((s) => `"${s}:"`).join(' or ')}, e.g. "pkcs11:token=ca;object=root"`,
  });
}

/** Parses a key URI of any scheme Keyward knows; refuses other text. */
export function parseKeyUri(input: string): Pkcs11Uri | YubiKeyUri {
  return requireKeyUriScheme(input) === 'pkcs11' ? parsePkcs11Uri(input) : parseYubiKeyUri(input);
}
