/**
 * The fields of a transcript entry, read for a report. A transcript that verifies is only consistent
 * with itself: an unfinished one needs no signature, so anyone can write one that verifies, with
 * anything in any field. So each field read is checked to be of the kind Keyward writes there (text
 * where text goes, a list where a list goes), else TRANSCRIPT_MALFORMED names the line and the field;
 * and text is made printable on one line (quoted.ts), so that no field adds a line to a report, or a
 * control character to the terminal it is printed on, and nothing in it is hidden.
 */
import { keywardError } from '../errors.js';
import { printable } from '../quoted.js';
import type { TranscriptEntry } from './transcript.js';

/** What a value is, in words, for the error that says it is not what the report needs. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return String(value);
  return 'an object';
}

/** Reads fields of one entry (or of an object inside it) by their paths, `data.script.sha256`. */
export class EntryFields {
  readonly #file: string;
  readonly #entry: TranscriptEntry;
  readonly #value: unknown;
  readonly #path: string;

  private constructor(file: string, entry: TranscriptEntry, value: unknown, path: string) {
    this.#file = file;
    this.#entry = entry;
    this.#value = value;
    this.#path = path;
  }

  /** The fields of `entry`, a line of the transcript at `file`: `at`, `data.…`. */
  static of(file: string, entry: TranscriptEntry): EntryFields {
    return new EntryFields(file, entry, entry, '');
  }

  /** The entry's type (`ceremony.start`). */
  get type(): string {
    return this.#entry.type;
  }

  /** The entry's line in the transcript. */
  get line(): number {
    return this.#entry.seq + 1;
  }

  #name(path: string): string {
    return this.#path ? `${this.#path}.${path}` : path;
  }

  #get(path: string): unknown {
    let value = this.#value;
    for (const key of path.split('.')) {
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value;
  }

  #wrong(path: string, value: unknown, wanted: string) {
    const { line } = this;
    return keywardError(
      'TRANSCRIPT_MALFORMED',
      `${this.#file}: line ${line} (${printable(String(this.#entry.type))}): ${this.#name(path)} ${value === undefined ? 'is missing' : `is ${kindOf(value)}, not ${wanted}`}`,
      {
        hint: 'Keyward writes this field in every transcript: this one was not written by keyward ceremony run, or was changed and its hashes made again (an unfinished transcript has no signature to stop that); compare it with the copies the witnesses keep',
        details: { line, entry: line - 1, field: this.#name(path) },
      },
    );
  }

  /** Whether the field is there (and not null). */
  has(path: string): boolean {
    const value = this.#get(path);
    return value !== undefined && value !== null;
  }

  /** Text, printable on one line; a number is text as JSON wrote it. */
  text(path: string): string {
    const value = this.#get(path);
    if (typeof value === 'string') return printable(value);
    if (typeof value === 'number') return String(value);
    throw this.#wrong(path, value, 'text');
  }

  /** Text where the field is there, undefined where it is absent or null. */
  optionalText(path: string): string | undefined {
    return this.has(path) ? this.text(path) : undefined;
  }

  /** True or false; absent is false. */
  flag(path: string): boolean {
    const value = this.#get(path);
    if (value === undefined || typeof value === 'boolean') return value === true;
    throw this.#wrong(path, value, 'true or false');
  }

  /** A list of objects, each read by its own fields (`data.keys[0].role`). */
  list(path: string): EntryFields[] {
    const value = this.#get(path);
    if (!Array.isArray(value)) throw this.#wrong(path, value, 'a list');
    return value.map((item: unknown, i) => {
      const name = `${this.#name(path)}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw this.#wrong(`${path}[${i}]`, item, 'an object');
      return new EntryFields(this.#file, this.#entry, item, name);
    });
  }

  /** A list of texts, each printable on one line. */
  texts(path: string): string[] {
    const value = this.#get(path);
    if (!Array.isArray(value)) throw this.#wrong(path, value, 'a list');
    return value.map((item: unknown, i) => {
      if (typeof item === 'string') return printable(item);
      throw this.#wrong(`${path}[${i}]`, item, 'text');
    });
  }
}
