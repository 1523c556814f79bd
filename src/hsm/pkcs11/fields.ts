/**
 * PKCS#11's fixed-width fields: blank-padded strings (labels, descriptions, serials) and slot IDs.
 * The module and its tokens both read them; neither owns them.
 */
import { keywardError } from '../../errors.js';

/** Strips the blank (and, from some modules, NUL) padding of PKCS#11 fixed-width strings. */
export function unpad(value: string): string {
  return value.replace(/[\s\0]+$/u, '');
}

/** PKCS#11 labels are 32 bytes, blank-padded (pkcs11js would pad C_InitToken's with NULs). */
export function padLabel(label: string): string {
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes === 0 || bytes > 32) {
    throw keywardError('LABEL_INVALID', `a token label has 1 to 32 bytes; "${label}" has ${bytes}`);
  }
  return label + ' '.repeat(32 - bytes);
}

/** The CK_SLOT_ID of a slot handle, as printed in `slot-id=` of a URI. */
export function slotIdOf(handle: Buffer): number {
  const id = handle.length >= 8 ? handle.readBigUInt64LE(0) : BigInt(handle.readUInt32LE(0));
  return Number(id);
}
