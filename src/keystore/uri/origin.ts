/**
 * Where a key URI came from, which decides what it may make Keyward do. A URI the operator gives
 * (argv, the environment, a library caller's own code) is the operator's choice for this run. A
 * URI read from a file (a CA directory's ca.json, a ceremony script, a trust repository)
 * is input like any other: it is parsed before it is used, it may not choose code to load
 * (hsm/pkcs11/module-policy.ts), and it may not say where a secret comes from: whoever edits the
 * file could otherwise feed a wrong PIN from a file of their choosing and spend the PIN's tries. Readers of files hand out `KeyUri.fromFile(…)`, never the bare
 * text, so the rule holds wherever the URI travels.
 */
import { keywardError } from '../../errors.js';
import { parseKeyUri } from './schemes.js';

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
    const parsed = parseKeyUri(text) as { pinSource?: string; pinValue?: unknown; managementKeySource?: string };
    if (parsed.pinSource !== undefined || parsed.pinValue !== undefined || parsed.managementKeySource !== undefined) {
      throw keywardError(
        'URI_SECRET_IN_FILE',
        'a key URI read from a file may not say where a PIN or key comes from (pin-source, pin-value, management-key-source)',
        {
          hint: `give PINs as the operator (at the prompt, in the device's KEYWARD_PIN_TOKEN_<serial> or KEYWARD_PIN_YUBIKEY_<serial>, or KEYWARD_PIN); remove the attribute from ${file}, and restore the file from a trusted copy if you did not put it there`,
          details: { file, field },
        },
      );
    }
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
