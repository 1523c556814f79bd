/**
 * Keyward publishes Notary v1 trust data to a real notary-server (Debian's notary 0.7), every key in
 * a device, and the real `notary` client reads it back; delegations, revocation, key rotation, and
 * refusals of what a broken or hostile server serves.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { notaryServerUnavailable, startNotaryServer, type NotaryServerRig } from '../../../src/testing/notary-server.js';
import { NotaryRepository } from '../../../src/trust/notary/repository.js';
import { tempDir } from '../../harness/temp.js';
import { notaryContext, notaryDevices, uniqueGun } from '../../harness/notary.js';

const unavailable = notaryServerUnavailable();
let rig: NotaryServerRig;
test.before(async () => {
  if (!unavailable) rig = await startNotaryServer();
});
test.after.always(async () => {
  await rig?.stop();
});

const manifest = (text: string) => {
  const bytes = Buffer.from(text);
  return { digest: createHash('sha256').update(bytes).digest(), length: bytes.length };
};
const targetOf = (m: { digest: Buffer; length: number }) => ({ length: m.length, hashes: { sha256: m.digest.toString('base64') } });

const maybe = unavailable ? test.skip : test.serial;

maybe('init and sign with keys in SoftHSM and a YubiKey; the notary client lists the tag with its digest and size', async (t) => {
  const dev = await notaryDevices(t);
  const gun = uniqueGun();
  const root = await dev.softhsm('p256');
  const targets = await dev.yubikey('9c', 'p256');
  const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
  const init = await NotaryRepository.init(context, { root: root.handle, targets: targets.signer });
  t.deepEqual(
    init.published.map((p) => p.role),
    ['root', 'targets'],
  );
  t.is(init.snapshot, 'server');
  const repo = await NotaryRepository.open(context);
  const v1 = manifest('{"schemaVersion":2}');
  const signed = await repo.sign('v1', targetOf(v1), []);
  t.is(signed.role, 'targets');
  t.deepEqual(repo.lookup('v1'), { role: 'targets', name: 'v1', sha256: v1.digest.toString('hex'), length: v1.length });

  const trustDir = tempDir(t, 'keyward-notary-client-');
  const list = await rig.notary(['list', gun], trustDir);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`v1\\s+${v1.digest.toString('hex')}\\s+${v1.length}\\s+targets`));
  const lookup = await rig.notary(['lookup', gun, 'v1'], trustDir);
  t.is(lookup.code, 0, lookup.stderr);
  t.regex(lookup.stdout, new RegExp(`v1 sha256:${v1.digest.toString('hex')} ${v1.length}`));
});
