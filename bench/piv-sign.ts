/**
 * YubiKey PIV signing with the library, against the virtual YubiKey: APDUs per signature in a
 * session (the PIN verified once), and signatures per second in-process and through a real pcscd.
 * (Whole commands, `keyward key sign` against yubico-piv-tool, are in bench/commands.ts.)
 */
import { VirtualYubiKey } from '../src/hsm/virtual-yubikey/card.js';
import { nonInteractive } from '../src/keystore/interaction.js';
import { Keystore } from '../src/keystore/keystore.js';
import { serveVirtualCard, type PcscRig } from '../test/harness/pcscd.js';
import { keyward } from '../test/harness/run.js';
import { measureAsync, median, type Measurement } from './measure.js';

const MESSAGE = Buffer.from('a message of modest size, as a TBSCertificate or TUF role would be');
const SESSION_SIGNATURES = 200;
const quiet = { ...nonInteractive, warn: () => undefined };

export interface PivBench {
  /** APDUs per signature once the PIN is verified (PIN policy "once"). */
  apdusPerSignature: number;
  inProcess: Measurement;
  pcscd?: Measurement;
  skipped?: string;
}

/** The library, PIN policy "once": the PIN is verified at the first signature only. */
async function sessionApdus(keystore: Keystore, uri: string, count: () => number): Promise<number> {
  const handle = await keystore.open(uri);
  await handle.sign(MESSAGE);
  const before = count();
  for (let i = 0; i < SESSION_SIGNATURES; i++) await handle.sign(MESSAGE);
  return (count() - before) / SESSION_SIGNATURES;
}

/** `rig`: the run's private pcscd (none without root: then only the in-process figures). */
export async function benchPivSign(rig: PcscRig | undefined): Promise<PivBench> {
  let apdus = 0;
  const card = await VirtualYubiKey.create({ firmware: '5.7.1' }, { onApdu: () => apdus++ });
  const keystore = new Keystore({ attachedCards: [{ reader: 'in-process', card }], env: { KEYWARD_PIN: '123456' }, interaction: quiet });
  const uri = `yubikey:serial=${card.serial};slot=9a`;
  await keystore.generate(uri, { algorithm: 'p256', pinPolicy: 'once' });
  const apdusPerSignature = await sessionApdus(keystore, uri, () => apdus);
  const handle = await keystore.open(uri);
  const inProcess = await median(() => measureAsync('keystore sign, in-process virtual YubiKey', () => handle.sign(MESSAGE), 1));
  await keystore.close();

  if (!rig) return { apdusPerSignature, inProcess, skipped: 'pcscd figures need root (a private pcscd runs in its own mount namespace)' };
  const served = await serveVirtualCard(rig, { firmware: '5.7.1' });
  try {
    const env = { ...rig.env, KEYWARD_PIN: '123456' };
    await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--pin-policy', 'once'], { env });
    const pcsc = new Keystore({ env, interaction: quiet });
    const pcscHandle = await pcsc.open('yubikey:slot=9a');
    await pcscHandle.sign(MESSAGE);
    const pcscd = await median(() => measureAsync('keystore sign through pcscd + vpcd', () => pcscHandle.sign(MESSAGE), 1));
    await pcsc.close();
    return { apdusPerSignature, inProcess, pcscd };
  } finally {
    await served.stop();
  }
}
