/**
 * Text from outside (a request's path, a field of its body, a CSR's subject), quoted back in an
 * answer, an error or a log line. However long the text, the quote is short: an answer that
 * repeats its input whole lets a client make the server say anything at any length, and a log
 * line as long as a request buries the others. It holds no control or format characters either:
 * a terminal showing the log would act on them, and a line break would forge a line.
 */

/** Characters of outside text shown before the quote is cut. */
export const QUOTED_CHARACTERS = 64;

/** What JSON's quoting leaves as it is but a terminal would act on: DEL, C1 controls, format characters, line and paragraph separators. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

const escaped = (character: string) => {
  const code = character.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `"text"`, escaped as JSON escapes strings and more; past `max` characters, `"its start…" (N characters)`. */
export function quoted(text: string, max = QUOTED_CHARACTERS): string {
  if (text.length <= max) return JSON.stringify(text).replace(UNPRINTABLE, escaped);
  // Not half of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
  return `${JSON.stringify(`${text.slice(0, end)}…`).replace(UNPRINTABLE, escaped)} (${text.length.toLocaleString('en-US')} characters)`;
}
