/**
 * Canonical JSON (the OLPC dialect TUF signs over, as securesystemslib and @tufjs/canonical-json
 * write it): object keys sorted, no whitespace, only `\` and `"` escaped in strings, integers only
 * (bigints for those beyond 2^53).
 * One implementation for every dialect Keyward speaks (TUF 1.0, Notary).
 *
 * Written in one pass into UTF-8 a few kilobytes at a time: a 100,000-target file is canonicalized
 * on every signature and every verification, and built as one string its hundreds of thousands of
 * pieces would all stay alive until the end, copied by the garbage collector at every collection
 * (in a fresh client process, that was a third of reading a 10,000-target role).
 */
import { keywardError } from '../errors.js';
import { withArticle } from '../words.js';

const NEEDS_ESCAPE = /["\\]/;
const HAS_SURROGATE = /[\ud800-\udfff]/;
/** What makes a key more than its characters between quotes, or sort differently by code point. */
const ESCAPE_OR_SURROGATE = /["\\\ud800-\udfff]/;

function encodeString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${value}"`;
}

/** Code point order (what Python's `sorted` gives); JavaScript's default sort compares UTF-16 units. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Puts an object's keys in code point order, in place; true when none has anything to escape.
 * Most objects have one or two keys (a target: its length and hashes), for which calling
 * Array.prototype.sort costs more than the sorting.
 */
function sortKeys(keys: string[]): boolean {
  if (keys.length === 2) {
    if (keys[1]! < keys[0]!) keys.reverse();
  } else if (keys.length > 2) {
    keys.sort();
  }
  let plain = true;
  for (let i = 0; i < keys.length && plain; i++) plain = !ESCAPE_OR_SURROGATE.test(keys[i]!);
  // The two orders differ only for characters outside the BMP; sort those keys the slow, exact way.
  if (!plain && keys.some((k) => HAS_SURROGATE.test(k))) keys.sort(byCodePoint);
  return plain;
}

/** Characters of text gathered before they become bytes. */
const PIECE = 16 * 1024;

class CanonicalWriter {
  #text = '';
  readonly #pieces: Buffer[] = [];

  bytes(): Buffer {
    this.#flush();
    return this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces);
  }

  #flush(): void {
    if (this.#text === '') return;
    this.#pieces.push(Buffer.from(this.#text, 'utf8'));
    this.#text = '';
  }

  value(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.#text += encodeString(value);
        return;
      case 'boolean':
        this.#text += value ? 'true' : 'false';
        return;
      case 'bigint': // an integer beyond 2^53 read exactly (exact-json.ts): its digits as they were
        this.#text += value.toString();
        return;
      case 'number':
        if (!Number.isSafeInteger(value)) {
          throw keywardError('CANONICAL_JSON_NUMBER', `canonical JSON has integers only; ${value} is not one`);
        }
        this.#text += String(value);
        return;
      case 'object':
        if (value === null) this.#text += 'null';
        else if (Array.isArray(value)) this.#array(value);
        else this.#object(value);
        return;
      default:
        throw keywardError('CANONICAL_JSON_TYPE', `canonical JSON cannot encode ${withArticle(typeof value)}`);
    }
  }

  #array(array: unknown[]): void {
    this.#text += '[';
    for (let i = 0; i < array.length; i++) {
      if (i > 0) this.#text += ',';
      this.value(array[i]);
    }
    this.#text += ']';
  }

  #object(object: object): void {
    const keys = Object.keys(object);
    const plain = sortKeys(keys);
    let separator = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = (object as Record<string, unknown>)[key];
      if (item === undefined) continue;
      this.#text += plain ? `${separator}"${key}":` : `${separator}${encodeString(key)}:`;
      separator = ',';
      this.value(item);
    }
    this.#text += separator === '{' ? '{}' : '}';
    if (this.#text.length >= PIECE) this.#flush();
  }
}

/** The canonical form of a JSON value, as a string. */
export function canonicalize(value: unknown): string {
  return canonicalBytes(value).toString('utf8');
}

/** The canonical form as UTF-8 bytes: what a signature covers. */
export function canonicalBytes(value: unknown): Buffer {
  const native = alreadyCanonicalText(value);
  if (native !== undefined) return Buffer.from(native, 'utf8');
  const writer = new CanonicalWriter();
  writer.value(value);
  return writer.bytes();
}

/**
 * Metadata read from a file whose keys were written sorted (Keyward's writer, securesystemslib's,
 * go-tuf's) is in canonical order already: then `JSON.stringify`, native code, gives the canonical
 * text, as long as nothing in it is escaped differently (canonical JSON escapes only `"` and `\`;
 * with no backslash in the text at all, nothing was escaped) and no key holds a character outside
 * the BMP (whose UTF-16 order differs from code point order). In a fresh client process that is
 * twice as fast as the writer above on a large targets role. Undefined when the value is not so.
 */
function alreadyCanonicalText(value: unknown): string | undefined {
  // JSON.stringify calls a `toJSON` it inherits: a polluted prototype must not choose the bytes signed.
  if ('toJSON' in Array.prototype || !sortedIntegersOnly(value)) return undefined;
  const text = JSON.stringify(value);
  return text.includes('\\') || HAS_SURROGATE.test(text) ? undefined : text;
}

/**
 * True when every object in `value` is a plain one whose own keys are in ascending order, every
 * number a safe integer, and nothing else is in it than JSON's types (which the writer refuses or,
 * like `toJSON`, `JSON.stringify` would encode differently). Returns at the first key out of order.
 */
function sortedIntegersOnly(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || Object.hasOwn(value, 'toJSON')) return false;
        // By index, not by the array's iterator, which is JavaScript anyone could replace.
        for (let i = 0; i < value.length; i++) if (!sortedIntegersOnly(value[i])) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        if (i > 0 && !(keys[i - 1]! < keys[i]!)) return false;
        if (!sortedIntegersOnly((value as Record<string, unknown>)[keys[i]!])) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
