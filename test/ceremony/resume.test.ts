/**
 * A resumed ceremony whose YubiKey-made key was not yet attested when the machine died: the
 * transcript is cut where the machine would have left it (right after the key was made), and the
 * resumed run reopens the key and attests it before it signs.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCeremony } from '../../src/ceremony/runner.js';
import { readScript } from '../../src/ceremony/script.js';
import { verifyTranscript } from '../../src/ceremony/transcript.js';
import { createTestToken } from '../../src/testing/softhsm.js';
import { createTestYubiKey, FACTORY_PIN } from '../../src/testing/virtual-yubikey.js';
import { keystoreFactory, quiet, room, rootScript, tokenSerial, writeScript } from '../harness/ceremony.js';
import { run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

test('a key made on a YubiKey before the machine died, not yet attested, is reopened and attested by the resumed run', async (t) => {
  const token = await createTestToken();
  const yubikey = await createTestYubiKey();
  t.teardown(() => Promise.all([token.close(), yubikey.close()]));
  const dir = tempDir(t, 'keyward-ceremony-resume-');
  const serial = tokenSerial(token);
  await runCeremony(readScript(writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial }))), {
    out: join(dir, 'root-out'),
    keystore: keystoreFactory(token.userPin),
    interaction: quiet,
    witnessing: room(),
  });
  const script = readScript(
    writeScript(
      dir,
      'cluster.yaml',
      `keyward-ceremony: 1
kind: intermediate
ca-directory: offline-ca
devices:
  root-hsm: { uri: "pkcs11:token=${token.label}", serial: "${serial}" }
  cluster-yubikey: { uri: "yubikey:", serial: ${yubikey.serial} }
keys:
  root: { device: root-hsm, label: root-2026 }
  intermediate: { device: cluster-yubikey, slot: 9d, algorithm: p256 }
cluster: { id: cluster-a }
certificate: { days: 730 }
outputs: { certificate: cluster-a.pem }
witnesses: [Alice Auditor]
`,
    ),
  );
  const out = join(dir, 'out');
  // The PINs differ per device: each from its own variable.
  const keystore = keystoreFactory({ [`KEYWARD_PIN_TOKEN_${serial}`]: token.userPin, [`KEYWARD_PIN_YUBIKEY_${yubikey.serial}`]: FACTORY_PIN }, [yubikey]);
  await t.throwsAsync(runCeremony(script, { out, keystore, interaction: quiet, witnessing: room(/^Sign this/) }));
  // What a machine that died just after making the key leaves: the lines up to the key's.
  const transcript = join(out, 'transcript.jsonl');
  const lines = readFileSync(transcript, 'utf8').split('\n').filter(Boolean);
  const made = lines.findIndex((line) => {
    const entry = JSON.parse(line) as { type: string; data: { role?: string } };
    return entry.type === 'key.ready' && entry.data.role === 'intermediate';
  });
  t.true(made > 0);
  writeFileSync(transcript, `${lines.slice(0, made + 1).join('\n')}\n`);
  const madeKey = (JSON.parse(lines[made]!) as { data: { publicKey: string; generated: boolean } }).data;
  t.true(madeKey.generated);

  const result = await runCeremony(script, { out, keystore, interaction: quiet, witnessing: room(), resume: true });
  const { entries } = verifyTranscript(result.transcript);
  const resumed = entries.slice(entries.findIndex((e) => e.type === 'ceremony.resumed'));
  t.like(resumed.find((e) => e.type === 'key.ready' && e.data.role === 'intermediate')?.data, { generated: false, publicKey: madeKey.publicKey });
  t.like(resumed.find((e) => e.type === 'key.attestation')?.data, { role: 'intermediate' }, 'attested by the resumed run, before it signed');
  const chain = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'offline-ca', 'root.pem'), join(out, 'cluster-a.pem')]);
  t.is(chain.code, 0, chain.stdout + chain.stderr);
});
