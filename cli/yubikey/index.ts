/** `keyward yubikey …`: YubiKey PIV devices (list, info, PINs, management key, reset, attestation) and the virtual YubiKey. */
import type { Command } from 'commander';
import { defineAttest } from './attest.js';
import { defineInfo, defineList } from './info.js';
import { defineManagementKey } from './management-key.js';
import { definePin, definePuk } from './pin.js';
import { defineReset } from './reset.js';
import { defineVirtual } from './virtual.js';

/** `keyward yubikey`'s commands, in the order its help lists them. */
export function defineYubikey(yubikey: Command): void {
  defineList(yubikey);
  defineInfo(yubikey);
  definePin(yubikey);
  definePuk(yubikey);
  defineManagementKey(yubikey);
  defineReset(yubikey);
  defineAttest(yubikey);
  defineVirtual(yubikey);
}
