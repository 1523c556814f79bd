/** The PIV scenarios through a real pcscd: virtual YubiKeys in vsmartcard-vpcd readers, Keyward's PC/SC transport. */
import test from 'ava';
import { PivSession } from '../../../src/hsm/piv/session.js';
import { PcscTransport } from '../../../src/hsm/piv/transport/pcsc.js';
import { controlRequest, controlSocketPath } from '../../../src/hsm/virtual-yubikey/control.js';
import { loadState } from '../../../src/hsm/virtual-yubikey/state.js';
import { serveVirtualCard, startPcscd, type PcscRig } from '../../harness/pcscd.js';
import { credentials, pivScenarios, type DeviceOptions, type TestDevice } from './scenarios.js';

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

// One card at a time in the first reader: the scenarios run serially here.
async function pcscDevice(options: DeviceOptions = {}): Promise<TestDevice> {
  const served = await serveVirtualCard(rig, {
    firmware: options.firmware,
    serial: options.serial,
    touch: options.touch,
    touchTimeoutSeconds: options.touchTimeoutSeconds,
  });
  const sessions: PivSession[] = [];
  return {
    open: async (overrides, extra) => {
      const session = await PivSession.open(await PcscTransport.connect(served.reader), { credentials: credentials(overrides), ...extra });
      sessions.push(session);
      return session;
    },
    touch: async () => {
      await controlRequest(controlSocketPath(served.statePath), 'touch');
    },
    attestationRoot: () => Buffer.from(loadState(served.statePath).attestation.rootCertificate, 'base64'),
    attestationIntermediates: () => (loadState(served.statePath).attestation.intermediates ?? []).map((c) => Buffer.from(c, 'base64')),
    close: async () => {
      for (const session of sessions) await session.close();
      await served.stop();
    },
  };
}

pivScenarios(test.serial, pcscDevice);
