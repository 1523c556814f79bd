/**
 * A virtual YubiKey for a test, in this process: a factory-fresh emulated YubiKey 5 (PIN 123456,
 * the factory management key) and a keystore that reaches it as `yubikey:serial=…`, trusting its own
 * attestation CA. Never for keys that matter: its private keys are in memory in the clear.
 */
import { VirtualYubiKey } from '../hsm/virtual-yubikey/card.js';
import type { FirmwareProfile } from '../hsm/virtual-yubikey/firmware.js';
import type { TouchMode } from '../hsm/virtual-yubikey/touch.js';
import { Keystore } from '../keystore/keystore.js';
import { formatYubiKeyUri } from '../keystore/uri/index.js';
import { recordingInteraction } from './softhsm.js';

/** The factory PIN of a YubiKey (and of a fresh virtual one). */
export const FACTORY_PIN = '123456';

export interface TestYubiKeyOptions {
  /** 5.4.3, 5.7.1 (default) or 5.7.4. */
  firmware?: FirmwareProfile;
  serial?: number;
  /** Touches come by themselves after `delayMs` (default 0), or only from `card.touch.touch()` (`manual`). */
  touch?: TouchMode;
  /** Where to keep the card's state (a JSON file holding its private keys); in memory only by default. */
  statePath?: string;
  /** Environment for the keystore besides the PIN (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface TestYubiKey {
  card: VirtualYubiKey;
  serial: number;
  /** A keystore that finds this card (and PC/SC readers too, if any) and signs with the factory PIN. */
  keystore: Keystore;
  /** Warnings the keystore gave (the factory PIN and management key are warned about). */
  warnings: string[];
  /** The URI of a PIV slot of this card (`9a`, `9c`, `9d`, `9e`, `82`–`95`). */
  keyUri(slot: string): string;
  close(): Promise<void>;
}

export async function createTestYubiKey(options: TestYubiKeyOptions = {}): Promise<TestYubiKey> {
  const card = await VirtualYubiKey.create(
    { firmware: options.firmware ?? '5.7.1', serial: options.serial, statePath: options.statePath },
    { touch: options.touch ?? { kind: 'auto', delayMs: 0 } },
  );
  const warnings: string[] = [];
  const keystore = new Keystore({
    attachedCards: [{ reader: 'Keyward virtual YubiKey (in-process)', card }],
    attestationRoots: [card.attestationRoot],
    attestationIntermediates: card.attestationIntermediates,
    env: { ...(options.env ?? process.env), KEYWARD_PIN: FACTORY_PIN },
    interaction: recordingInteraction(warnings),
  });
  return {
    card,
    serial: card.serial,
    keystore,
    warnings,
    keyUri: (slot) => formatYubiKeyUri({ serial: card.serial, slot }),
    close: () => keystore.close(),
  };
}
