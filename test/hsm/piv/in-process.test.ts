/** The PIV scenarios against the virtual YubiKey in this process (InProcessTransport). */
import test from 'ava';
import { PivSession } from '../../../src/hsm/piv/session.js';
import { InProcessTransport } from '../../../src/hsm/piv/transport/in-process.js';
import { VirtualYubiKey } from '../../../src/hsm/virtual-yubikey/card.js';
import { credentials, pivScenarios, type DeviceOptions, type TestDevice } from './scenarios.js';

async function inProcessDevice(options: DeviceOptions = {}): Promise<TestDevice> {
  const card = await VirtualYubiKey.create(
    { firmware: options.firmware, serial: options.serial },
    { touch: options.touch === 'manual' ? { kind: 'manual' } : { kind: 'auto', delayMs: 50 }, touchTimeoutMs: (options.touchTimeoutSeconds ?? 15) * 1000 },
  );
  const transport = new InProcessTransport(card);
  return {
    open: (overrides, extra) => PivSession.open(transport, { credentials: credentials(overrides), ...extra }),
    touch: async () => {
      card.touch.touch();
    },
    attestationRoot: () => card.attestationRoot,
    attestationIntermediates: () => card.attestationIntermediates,
    close: async () => undefined,
  };
}

pivScenarios(test, inProcessDevice);
