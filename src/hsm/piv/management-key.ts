/**
 * The card management key (SP 800-73-4 Part 1 Table 4b, key reference 9B): 3DES or AES-128/192/256,
 * used in ECB on single blocks for the GENERAL AUTHENTICATE witness/challenge exchange. Used by the
 * driver (host side) and by the virtual YubiKey (card side).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { keywardError } from '../../errors.js';
import { MANAGEMENT_KEY_ALGORITHMS, type ManagementKeyAlgorithm } from './spec.js';
import { withArticle } from '../../words.js';

const CIPHERS: Record<ManagementKeyAlgorithm, string> = {
  tdes: 'des-ede3',
  aes128: 'aes-128-ecb',
  aes192: 'aes-192-ecb',
  aes256: 'aes-256-ecb',
};

export function checkManagementKey(algorithm: ManagementKeyAlgorithm, key: Uint8Array): void {
  const expected = MANAGEMENT_KEY_ALGORITHMS[algorithm].keyLength;
  if (key.length !== expected) {
    throw keywardError(
      'MANAGEMENT_KEY_LENGTH',
      `${withArticle(`${algorithm.toUpperCase()} management key`)} has ${expected} bytes (${expected * 2} hex digits); got ${key.length}`,
    );
  }
}

function run(algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array, encrypt: boolean): Uint8Array {
  checkManagementKey(algorithm, key);
  const cipher = encrypt ? createCipheriv(CIPHERS[algorithm], key, null) : createDecipheriv(CIPHERS[algorithm], key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(block), cipher.final()]));
}

export const encryptBlock = (algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array) => run(algorithm, key, block, true);
export const decryptBlock = (algorithm: ManagementKeyAlgorithm, key: Uint8Array, block: Uint8Array) => run(algorithm, key, block, false);

/** Parses a management key given as hex (the way ykman and yubico-piv-tool print them). */
export function parseManagementKeyHex(text: string): Uint8Array {
  const clean = text.trim();
  if (!/^([0-9a-fA-F]{2})+$/.test(clean)) {
    throw keywardError('MANAGEMENT_KEY_FORMAT', 'a management key is written in hex (48 hex digits for 3DES or AES-192, 32 for AES-128, 64 for AES-256)');
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}
