/**
 * Certificate serial numbers. RFC 5280 §4.1.2.2 makes them the issuer's to assign: positive,
 * unique per issuer, at most 20 octets. Every certificate Keyward signs takes its serial from here;
 * random rather than counted, so that no two CA directories or devices need to agree on a counter
 * and nobody can predict the next one (CA/B Forum practice since the MD5 collision attacks).
 */
import { randomBytes } from 'node:crypto';

/** CSPRNG output drawn 4 KiB at a time: a CA server takes 16 bytes a certificate, and a call cost more than its bytes. */
let block = Buffer.alloc(0);
let taken = 0;

/** 16 random bytes, the first 1–127: positive, and DER keeps all 16 bytes. */
export function randomSerialBytes(): Uint8Array {
  if (taken + 16 > block.length) {
    block = randomBytes(4096);
    taken = 0;
  }
  const bytes = new Uint8Array(block.subarray(taken, taken + 16));
  block.fill(0, taken, taken + 16); // each byte serves once
  taken += 16;
  bytes[0] = (bytes[0]! % 0x7f) + 1;
  return bytes;
}

/** The same, as the hex string x509's generator and the ledger take. */
export const randomSerial = (): string => Buffer.from(randomSerialBytes()).toString('hex');
