/**
 * JSON for signed TUF metadata with its integers exact. `JSON.parse` turns 9007199254740993 into
 * 9007199254740992, so metadata python-tuf wrote with a version or length above 2^53 could neither
 * be read right nor verified (its canonical form would not be the one signed). Here an integer
 * beyond Number.MAX_SAFE_INTEGER becomes a `bigint` with its exact digits, which canonical JSON
 * writes back as they were; every other value is what `JSON.parse` gives.
 *
 * Metadata rarely holds such a number: `JSON.parse` reads it first, and only when the text may hold
 * one is it read again, by the small parser below. A reviver could tell instead, but it runs for
 * every value: on a 10,000-target role it doubled the parse.
 */

/**
 * Where an integer beyond 2^53 can be: a number token (after `[`, `:`, `,` or at the start, JSON's
 * whitespace between) with 16 digits or more before any fraction. Text in strings can match too;
 * that costs only the slower parse.
 */
const MAYBE_BEYOND_2_53 = /(?:^|[[:,])[ \t\n\r]*-?[1-9][0-9]{15}/;

/** Parses JSON text; integers beyond ±(2^53 - 1) become bigints. Throws SyntaxError as JSON.parse does. */
export function parseJsonExact(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return MAYBE_BEYOND_2_53.test(text) ? new ExactParser(text).document() : value;
}

const INTEGER = /^-?(0|[1-9]\d*)$/;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
// Control characters (below U+0020) are not allowed unescaped in a JSON string.
const STRING = new RegExp(String.raw`"(?:[^"\\${String.fromCharCode(0)}-${String.fromCharCode(0x1f)}]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"`, 'y');
const SPACE = /[ \t\n\r]*/y;

class ExactParser {
  #at = 0;

  constructor(readonly text: string) {}

  document(): unknown {
    const value = this.#value();
    this.#space();
    if (this.#at !== this.text.length) this.#fail();
    return value;
  }

  #fail(): never {
    throw new SyntaxError(`unexpected token at position ${this.#at}`);
  }

  #space(): void {
    SPACE.lastIndex = this.#at;
    SPACE.exec(this.text);
    this.#at = SPACE.lastIndex;
  }

  #match(regex: RegExp): string {
    regex.lastIndex = this.#at;
    const found = regex.exec(this.text);
    if (!found) this.#fail();
    this.#at = regex.lastIndex;
    return found[0];
  }

  #literal(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.#at)) this.#fail();
    this.#at += word.length;
    return value;
  }

  #value(): unknown {
    this.#space();
    const c = this.text[this.#at];
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return JSON.parse(this.#match(STRING)) as string;
    if (c === 't') return this.#literal('true', true);
    if (c === 'f') return this.#literal('false', false);
    if (c === 'n') return this.#literal('null', null);
    const lexeme = this.#match(NUMBER);
    const number = Number(lexeme);
    return INTEGER.test(lexeme) && !Number.isSafeInteger(number) ? BigInt(lexeme) : number;
  }

  #expect(c: string): void {
    this.#space();
    if (this.text[this.#at] !== c) this.#fail();
    this.#at++;
  }

  #object(): Record<string, unknown> {
    this.#expect('{');
    const object: Record<string, unknown> = {};
    this.#space();
    if (this.text[this.#at] === '}') {
      this.#at++;
      return object;
    }
    for (;;) {
      this.#space();
      const key = JSON.parse(this.#match(STRING)) as string;
      this.#expect(':');
      // An own property even for "__proto__", as JSON.parse makes it.
      Object.defineProperty(object, key, { value: this.#value(), enumerable: true, writable: true, configurable: true });
      this.#space();
      if (this.text[this.#at] === '}') {
        this.#at++;
        return object;
      }
      this.#expect(',');
    }
  }

  #array(): unknown[] {
    this.#expect('[');
    const array: unknown[] = [];
    this.#space();
    if (this.text[this.#at] === ']') {
      this.#at++;
      return array;
    }
    for (;;) {
      array.push(this.#value());
      this.#space();
      if (this.text[this.#at] === ']') {
        this.#at++;
        return array;
      }
      this.#expect(',');
    }
  }
}
