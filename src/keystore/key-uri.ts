/**
 * Where a key URI came from, which decides what it may make Keyward do. A URI the operator gives
 * (argv, the environment, a library caller's own code) is the operator's choice for this run. A
 * URI read from a file (a CA directory's ca.json, later ceremony scripts and trust repositories)
 * is input like any other: it is parsed before it is used, and it may not choose code to load
 * (hsm/pkcs11/module-policy.ts). Readers of files hand out `KeyUri.fromFile(…)`, never the bare
 * text, so the rule holds wherever the URI travels.
 */
import { parseKeyUri } from './uri.js';

export type UriOrigin = { kind: 'operator' } | { kind: 'file'; file: string; field: string };

export const OPERATOR: UriOrigin = { kind: 'operator' };

export class KeyUri {
  readonly text: string;
  readonly origin: UriOrigin;

  private constructor(text: string, origin: UriOrigin) {
    this.text = text;
    this.origin = origin;
  }

  /** A URI read from `file` (its `field`), checked with the keystore's parsers: throws what they throw. */
  static fromFile(text: string, file: string, field: string): KeyUri {
    parseKeyUri(text);
    return new KeyUri(text, { kind: 'file', file, field });
  }

  /** A plain string is the operator's own choice. */
  static of(uri: string | KeyUri): KeyUri {
    return typeof uri === 'string' ? new KeyUri(uri, OPERATOR) : uri;
  }

  /** Written back into the file it came from as the text it was. */
  toJSON(): string {
    return this.text;
  }
}
