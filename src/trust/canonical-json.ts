/**
 * Canonical JSON (the OLPC dialect TUF signs over, as securesystemslib and @tufjs/canonical-json
 * write it): object keys sorted, no whitespace, only `\` and `"` escaped in strings, integers only
 * (bigints for those beyond 2^53).
 * One implementation for every dialect Keyward speaks (TUF 1.0, Notary).
 *
 * Built as one string in a single pass, without per-entry copies: a 100,000-target file is
 * canonicalized on every signature and every verification.
 */
import { keywardError } from '../errors.js';
import { withArticle } from '../words.js';

const NEEDS_ESCAPE = /["\\]/;
const HAS_SURROGATE = /[\ud800-\udfff]/;

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

function sortedKeys(object: object): string[] {
  const keys = Object.keys(object).sort();
  // The two orders differ only for characters outside the BMP; sort those keys the slow, exact way.
  return keys.some((k) => HAS_SURROGATE.test(k)) ? keys.sort(byCodePoint) : keys;
}

function encode(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint': // an integer beyond 2^53 read exactly (exact-json.ts): its digits as they were
      return value.toString();
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw keywardError('CANONICAL_JSON_NUMBER', `canonical JSON has integers only; ${value} is not one`);
      }
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + encode(value[i]);
        return `${out}]`;
      }
      let out = '{';
      let first = true;
      for (const key of sortedKeys(value)) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        out += `${first ? '' : ','}${encodeString(key)}:${encode(item)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw keywardError('CANONICAL_JSON_TYPE', `canonical JSON cannot encode ${withArticle(typeof value)}`);
  }
}

/** The canonical form of a JSON value, as a string. */
export function canonicalize(value: unknown): string {
  return encode(value);
}

/** The canonical form as UTF-8 bytes: what a signature covers. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(encode(value), 'utf8');
}
