/**
 * Key URIs in the grammar of RFC 7512 ("The PKCS #11 URI Scheme"):
 *
 *   scheme ":" path-attr *( ";" path-attr ) [ "?" query-attr *( "&" query-attr ) ]
 *
 * One parser and one printer for every scheme, driven by a scheme's table of attributes (pkcs11.ts,
 * yubikey.ts). Parsing is strict (an unknown attribute is most likely a typo that would otherwise
 * silently match the wrong key) and every fault is reported with its position, its secrets hidden.
 */
import { UsageError } from '../../errors.js';
import { Secret } from '../../secret.js';
import { withArticle } from '../../words.js';
import { redactForDisplay, redactUri } from './redaction.js';

// RFC 7512 §2.3: pk11-unreserved, pk11-p-res-avail (path) and pk11-q-res-avail (query).
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PATH_RESERVED_AVAILABLE = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', '=', '&']);
const QUERY_RESERVED_AVAILABLE = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', '=', '/', '?', '|']);
/** What we leave unencoded when printing: unreserved everywhere, and "/" and ":" in query values. */
const QUERY_PRINTABLE = new Set(['/', ':']);

export type AttributeKind =
  { kind: 'text' } | { kind: 'bytes' } | { kind: 'uint' } | { kind: 'version' } | { kind: 'enum'; values: readonly string[] } | { kind: 'secret' };

/** The kind most attributes have: UTF-8 text. */
export const TEXT: AttributeKind = { kind: 'text' };

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
    const fault =
      redacted.faultInSecret === undefined
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

const utf8 = new TextDecoder('utf-8', { fatal: true });

function percentDecode(spec: UriSchemeSpec, input: string, start: number, end: number, allowed: Set<string>): Buffer {
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

function decodeValue(spec: UriSchemeSpec, attr: AttributeSpec, raw: Buffer, input: string, valueStart: number): AttributeValue {
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
        throw new UriError(spec, input, valueStart, `"${attr.name}" must be one of ${attr.type.values.join(', ')}; ${found(value)}`);
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
      throw new UriError(
        spec,
        input,
        pos,
        `more attributes than the limit of ${MAX_URI_ATTRIBUTES}`,
        'a key URI needs a handful of attributes; check how this one was built',
      );
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
    throw new UriError(spec, String(input), 0, `${withArticle(spec.title)} starts with "${prefix}"`);
  }
  if (input.length > MAX_URI_LENGTH) {
    throw new UriError(
      spec,
      input,
      MAX_URI_LENGTH,
      `the URI is ${input.length} characters long; the limit is ${MAX_URI_LENGTH}`,
      'a key URI names a key in a few hundred characters; check how this one was built',
    );
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

/** The scheme of a key URI ("pkcs11", "yubikey"), or undefined when the text is not a URI. */
export function uriScheme(input: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(input);
  return match ? match[1]!.toLowerCase() : undefined;
}

/** A scheme as functions: its parser and printer, made from its attribute table in one place. */
export interface UriScheme<T> {
  spec: UriSchemeSpec;
  parse(input: string): T;
  format(uri: T): string;
}

/** `normalise` lets a scheme accept a spelling its grammar does not (YubiKey slots in upper case). */
export function defineScheme<T extends object>(spec: UriSchemeSpec, normalise: (input: string) => string = (input) => input): UriScheme<T> {
  return { spec, parse: (input) => parseUri(spec, normalise(input)) as T, format: (uri) => formatUri(spec, uri as ParsedAttributes) };
}
