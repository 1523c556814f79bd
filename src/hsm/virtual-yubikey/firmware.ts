/**
 * The firmware profiles of the virtual YubiKey, in a module of their own: `keyward yubikey virtual
 * create --help` lists them without loading the emulator.
 */
import { versionAtLeast } from '../piv/spec.js';
import type { AttestationShape } from './attestation-ca.js';

/**
 * Firmware the emulator can play: 5.4 (3DES default management key), 5.7.1 (AES-192, Ed25519,
 * RSA 3072/4096) and 5.7.4 (as 5.7.1, and attestation through two intermediate tiers, like the
 * YubiKeys sold today).
 */
export const FIRMWARE_PROFILES = {
  '5.4.3': [5, 4, 3],
  '5.7.1': [5, 7, 1],
  '5.7.4': [5, 7, 4],
} as const satisfies Record<string, readonly [number, number, number]>;
export type FirmwareProfile = keyof typeof FIRMWARE_PROFILES;

/** Yubico moved PIV attestation under intermediates with firmware 5.7.4; the emulator follows. */
export function attestationShape(firmware: readonly [number, number, number]): AttestationShape {
  return versionAtLeast(firmware, 5, 7, 4) ? 'tiered' : 'direct';
}
