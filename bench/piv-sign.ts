/**
 * YubiKey PIV signing, against the virtual YubiKey: APDUs per signature (Keyward's library with
 * the PIN verified once per session; one whole command that verifies the PIN and makes one
 * signature: `keyward key sign`, and yubico-piv-tool's `verify-pin` + `test-signature`, its only
 * one-signature action that works with OpenSSL 3), and signatures per second in-process and
 * through a real pcscd.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualYubiKey } from '../src/hsm/virtual-yubikey/card.js';
import { Keystore } from '../src/keystore/registry.js';
import { serveVirtualCard, type PcscRig } from '../test/harness/pcscd.js';
import { keyward, run } from '../test/harness/run.js';
import { measureAsync, median, type Measurement } from './measure.js';

const MESSAGE = Buffer.from('a message of modest size, as a TBSCertificate or TUF role would be');
const SESSION_SIGNATURES = 200;

export interface PivBench {
  apdusPerSignature: { keywardSession: number; keywardCli: number; yubicoPivTool: number | undefined };
  inProcess: Measurement;
  pcscd?: Measurement;
  /** Milliseconds for one whole signing command (process start to exit). */
  commandMs?: { keyward: number; yubicoPivTool: number };
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

/** `rig`: the run's private pcscd (undefined without root); pcsc-lite finds one socket per process. */
export async function benchPivSign(rig: PcscRig | undefined): Promise<PivBench> {
  let apdus = 0;
  const card = await VirtualYubiKey.create({ firmware: '5.7.1' }, { onApdu: () => apdus++ });
  const keystore = new Keystore({ attachedCards: [{ reader: 'in-process', card }], env: { KEYWARD_PIN: '123456' }, interaction: { askSecret: async () => undefined, confirm: async () => undefined, warn: () => undefined, notice: () => ({ clear: () => undefined }) } });
  const uri = `yubikey:serial=${card.serial};slot=9a`;
  await keystore.generate(uri, { algorithm: 'p256', pinPolicy: 'once' });
  const keywardSession = await sessionApdus(keystore, uri, () => apdus);
  const handle = await keystore.open(uri);
  const inProcess = await median(() => measureAsync('keystore sign, in-process virtual YubiKey', () => handle.sign(MESSAGE), 1));
  await keystore.close();

  const result: PivBench = { apdusPerSignature: { keywardSession, keywardCli: Number.NaN, yubicoPivTool: undefined }, inProcess };
  if (!rig) {
    result.skipped = 'pcscd figures need root (a private pcscd runs in its own mount namespace)';
    return result;
  }
  const served = await serveVirtualCard(rig, { firmware: '5.4.3' });
  const env = { ...rig.env, KEYWARD_PIN: '123456' };
  const data = join(rig.dir, 'bench-data');
  writeFileSync(data, MESSAGE);
  // One key, in 9c (PIN policy "always", as yubico-piv-tool generates it), with a certificate:
  // yubico-piv-tool's one-signature action, test-signature, needs the certificate.
  await run('yubico-piv-tool', ['-r', served.reader, '-a', 'generate', '-s', '9c', '-A', 'ECCP256', '-o', `${data}.pub`], { env });
  await keyward(['cert', 'self-sign', 'yubikey:slot=9c', '--subject', 'CN=bench', '--store', '--out', `${data}.crt`], { env });
  await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--pin-policy', 'once'], { env });

  let before = served.apduCount();
  let started = performance.now();
  await keyward(['key', 'sign', 'yubikey:slot=9c', '--in', data, '--out', `${data}.kw.sig`], { env });
  const keywardMs = performance.now() - started;
  result.apdusPerSignature.keywardCli = served.apduCount() - before;

  before = served.apduCount();
  started = performance.now();
  const made = await run('yubico-piv-tool', ['-r', served.reader, '-a', 'verify-pin', '-P', '123456', '-a', 'test-signature', '-s', '9c', '-i', `${data}.crt`], { env });
  if (made.code !== 0) throw new Error(`yubico-piv-tool failed: ${made.stderr}`);
  const yubicoMs = performance.now() - started;
  result.apdusPerSignature.yubicoPivTool = served.apduCount() - before;
  result.commandMs = { keyward: keywardMs, yubicoPivTool: yubicoMs };

  const pcsc = new Keystore({ env, interaction: { askSecret: async () => undefined, confirm: async () => undefined, warn: () => undefined, notice: () => ({ clear: () => undefined }) } });
  const pcscHandle = await pcsc.open('yubikey:slot=9a');
  await pcscHandle.sign(MESSAGE);
  result.pcscd = await median(() => measureAsync('keystore sign through pcscd + vpcd', () => pcscHandle.sign(MESSAGE), 1));
  await pcsc.close();
  await served.stop();
  return result;
}
