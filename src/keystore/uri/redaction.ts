/**
 * Redaction: what of a URI may be shown. It works on any text, malformed or not, because it runs
 * exactly when something is wrong with the URI.
 */

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
export function redactForDisplay(text: string, position: number): { display: string; displayPosition: number; faultInSecret?: string } {
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

/**
 * A key URI (or text meant to be one) as it may appear in a message or log: without the value of
 * any attribute that looks like a PIN, however it is spelt or placed.
 */
export function redactUri(uriText: string): string {
  return redactForDisplay(uriText, 0).display;
}
