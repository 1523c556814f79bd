/**
 * What a virtual YubiKey remembers across power cycles, and how it is kept on disk: one JSON file,
 * written atomically with mode 600 after every change. It holds the emulated card's private keys in
 * the clear: a virtual YubiKey is for tests and demos, never for keys that matter.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../atomic-file.js';
import { keywardError } from '../../errors.js';
import type { ManagementKeyAlgorithm } from '../piv/spec.js';

export interface SlotState {
  /** PIV algorithm identifier. */
  algorithm: number;
  pinPolicy: number;
  touchPolicy: number;
  origin: number;
  /** PKCS#8 DER, base64. */
  privateKey: string;
  /** SPKI DER, base64. */
  publicKey: string;
}

export interface CredentialState {
  /** The 8-byte padded value, hex. */
  value: string;
  retriesLeft: number;
  maxRetries: number;
}

export interface VirtualYubiKeyState {
  format: 1;
  serial: number;
  firmware: [number, number, number];
  formFactor: number;
  pin: CredentialState;
  puk: CredentialState;
  managementKey: { algorithm: ManagementKeyAlgorithm; key: string; touch: boolean };
  /** By slot name ("9a"). */
  slots: Record<string, SlotState>;
  /** Data objects by id, hex ("5fc105" → value). */
  objects: Record<string, string>;
  /** The emulator's own attestation CA. */
  attestation: AttestationCaState;
}

/** A virtual card's attestation PKI: root, intermediates (5.7.4-style cards), the device's slot-F9 key. DER/PKCS#8, base64. */
export interface AttestationCaState {
  rootCertificate: string;
  /** From the F9 certificate's issuer up to (not including) the root; absent when F9 chains straight to the root. */
  intermediates?: string[];
  deviceCertificate: string;
  deviceKey: string;
}

export function loadState(path: string): VirtualYubiKeyState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw keywardError('VIRTUAL_STATE_MISSING', `no virtual YubiKey state at ${path}`, {
      cause,
      hint: 'create one with keyward yubikey virtual create --state ' + path,
    });
  }
  let state: VirtualYubiKeyState;
  try {
    state = JSON.parse(text) as VirtualYubiKeyState;
  } catch (cause) {
    throw keywardError('VIRTUAL_STATE_CORRUPT', `the virtual YubiKey state ${path} is not valid JSON`, { cause });
  }
  if (state.format !== 1 || typeof state.serial !== 'number' || !Array.isArray(state.firmware) || !state.pin || !state.attestation) {
    throw keywardError('VIRTUAL_STATE_CORRUPT', `${path} is not a virtual YubiKey state file (format 1)`);
  }
  return state;
}

export function saveState(path: string, state: VirtualYubiKeyState): void {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}
