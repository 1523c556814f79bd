/** yubikey: RFC 7512's grammar, naming a YubiKey (by serial or reader) and a PIV slot. */
import type { Secret } from '../../secret.js';
import { defineScheme, TEXT, type UriSchemeSpec } from './grammar.js';

export const YUBIKEY_SLOT_NAMES = ['9a', '9c', '9d', '9e', ...Array.from({ length: 20 }, (_, i) => (0x82 + i).toString(16))] as const;

export interface YubiKeyUri {
  serial?: number;
  /** PIV slot, two hex digits: 9a, 9c, 9d, 9e, 82–95. */
  slot?: string;
  /** PC/SC reader name (exact). */
  reader?: string;
  pinSource?: string;
  pinValue?: Secret;
  /** File holding the management key in hex. */
  managementKeySource?: string;
  vendor?: Record<string, string>;
}

export const YUBIKEY_URI: UriSchemeSpec = {
  scheme: 'yubikey',
  title: 'YubiKey URI',
  example: '"yubikey:serial=12345678;slot=9c?pin-source=file:/run/keyward/pin"',
  path: [
    { name: 'serial', field: 'serial', type: { kind: 'uint' } },
    { name: 'slot', field: 'slot', type: { kind: 'enum', values: YUBIKEY_SLOT_NAMES } },
    { name: 'reader', field: 'reader', type: TEXT },
  ],
  query: [
    { name: 'pin-source', field: 'pinSource', type: TEXT },
    { name: 'pin-value', field: 'pinValue', type: { kind: 'secret' } },
    { name: 'management-key-source', field: 'managementKeySource', type: TEXT },
  ],
};

// Slots are hex: accept 9C as well as 9c.
export const yubikeyUri = defineScheme<YubiKeyUri>(YUBIKEY_URI, (input) =>
  input.replace(/(;|:)slot=([0-9A-Fa-f]{2})(?=;|\?|$)/, (_, sep: string, slot: string) => `${sep}slot=${slot.toLowerCase()}`),
);
export const parseYubiKeyUri = yubikeyUri.parse;
export const formatYubiKeyUri = yubikeyUri.format;
