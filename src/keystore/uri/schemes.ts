/**
 * The key URI schemes Keyward knows, each served by a keystore backend. A new scheme is a file
 * beside this one (its attribute table, through defineScheme) and one line in SCHEMES.
 */
import { keywardError } from '../../errors.js';
import { uriScheme } from './grammar.js';
import { pkcs11Uri, type Pkcs11Uri } from './pkcs11.js';
import { redactUri } from './redaction.js';
import { yubikeyUri, type YubiKeyUri } from './yubikey.js';

const SCHEMES = { pkcs11: pkcs11Uri, yubikey: yubikeyUri } as const;

export type KeyUriScheme = keyof typeof SCHEMES;
export const KEY_URI_SCHEMES = Object.keys(SCHEMES) as readonly KeyUriScheme[];

/** The scheme of a key URI, or undefined when the text is none (a file path, say). */
export function keyUriScheme(input: string): KeyUriScheme | undefined {
  const scheme = uriScheme(input);
  return KEY_URI_SCHEMES.find((known) => known === scheme);
}

/** The scheme of a key URI; refuses any other text. */
export function requireKeyUriScheme(input: string): KeyUriScheme {
  const known = keyUriScheme(input);
  if (known) return known;
  const scheme = uriScheme(input);
  throw keywardError('URI_SCHEME_UNSUPPORTED', scheme ? `"${scheme}:" is not a key URI scheme Keyward knows` : `"${redactUri(input)}" is not a key URI`, {
    hint: `key URIs start with ${KEY_URI_SCHEMES.map((s) => `"${s}:"`).join(' or ')}, e.g. "pkcs11:token=ca;object=root"`,
  });
}

/** Parses a key URI of any scheme Keyward knows; refuses other text. */
export function parseKeyUri(input: string): Pkcs11Uri | YubiKeyUri {
  return SCHEMES[requireKeyUriScheme(input)].parse(input);
}
