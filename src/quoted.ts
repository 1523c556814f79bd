/**
 * Text from outside (a request's path, a field of its body, a CSR's subject), quoted back in an
 * answer, an error or a log line. However long the text, the quote is short: an answer that
 * repeats its input whole lets a client make the server say anything at any length, and a log
 * line as long as a request buries the others. It holds no control or format characters either:
 * a terminal showing the log would act on them, and a line break would forge a line. Text shown
 * whole (a ceremony's report) is made `printable` the same way.
 */

/** Characters of outside text shown before the quote is cut. */
export const QUOTED_CHARACTERS = 64;

/**
 * What a terminal or a page would act on rather than show, or not show at all: control characters
 * (C0 with the line breaks, DEL, C1), format characters (bidirectional overrides, zero-width ones),
 * line and paragraph separators.
 */
const UNPRINTABLE_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNPRINTABLE = new RegExp(UNPRINTABLE_CHARACTER.source, 'gu');

const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escaped = (character: string) => {
  const code = character.codePointAt(0)!;
  return SHORT_ESCAPES[character] ?? (code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`);
};

/** `text` on one line with nothing hidden: each unprintable character shown as its escape (`\n`, `\u001b`); the rest as it is. */
export const printable = (text: string): string => text.replace(UNPRINTABLE, escaped);

/** The first unprintable character in `text`, as its escape; undefined if there is none. */
export function unprintable(text: string): string | undefined {
  const found = UNPRINTABLE_CHARACTER.exec(text);
  return found ? escaped(found[0]) : undefined;
}

/** `"text"`, escaped as JSON escapes strings and more; past `max` characters, `"its start…" (N characters)`. */
export function quoted(text: string, max = QUOTED_CHARACTERS): string {
  if (text.length <= max) return JSON.stringify(text).replace(UNPRINTABLE, escaped);
  // Not half of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
  return `${JSON.stringify(`${text.slice(0, end)}…`).replace(UNPRINTABLE, escaped)} (${text.length.toLocaleString('en-US')} characters)`;
}
