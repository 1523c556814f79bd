/**
 * `keyward ceremony …` as operators run it: the root on a SoftHSM token, then a cluster intermediate
 * whose key is made on a virtual YubiKey served through a real pcscd, each device with its own PIN
 * variable; witnesses answer on standard input. The chain passes openssl verify -x509_strict, the
 * transcripts verify, the YubiKey's attestation is in the record, and no PIN is anywhere.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootScript, writeScript } from '../harness/ceremony.js';
import { CLI_PIN, cliToken } from '../harness/cli-token.js';
import { serveVirtualCard, startPcscd, type PcscRig } from '../harness/pcscd.js';
import { KEYWARD_BIN, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

const yes = 'yes\n'.repeat(12);

test.serial('a root ceremony and a cluster intermediate ceremony from scripts, on SoftHSM and a YubiKey through pcscd', async (t) => {
  const token = await cliToken(t);
  const card = await serveVirtualCard(rig, { serial: 31415926 });
  t.teardown(() => card.stop());
  const dir = tempDir(t, 'keyward-cli-ceremony-');
  const list = JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout) as Array<{ label: string; serial: string }>;
  const serial = list.find((entry) => entry.label === token.label)!.serial;
  // The virtual card's attestation root, as an operator would trust a real YubiKey's (Yubico's are built in).
  const attestationRoot = join(dir, 'virtual-root.pem');
  writeFileSync(attestationRoot, (await token.keyward(['yubikey', 'virtual', 'root', '--state', card.statePath])).stdout);
  // Each device its own PIN, from the environment; not KEYWARD_PIN.
  const env = {
    ...token.env,
    ...rig.env,
    KEYWARD_PIN: '',
    [`KEYWARD_PIN_TOKEN_${serial}`]: CLI_PIN,
    KEYWARD_PIN_YUBIKEY_31415926: '123456',
    KEYWARD_ATTESTATION_ROOTS: attestationRoot,
  };

  const root = await token.keyward(
    ['ceremony', 'run', writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial })), '--out', join(dir, 'root-out')],
    {
      env,
      input: yes,
    },
  );
  t.is(root.code, 0, root.stderr);
  t.regex(root.stderr, /Draft root certificate \(signed by a throw-away key; the device has signed nothing yet\)/);
  t.regex(root.stdout, /final hash [0-9a-f]{64}/);

  const intermediate = writeScript(
    dir,
    'cluster.yaml',
    `keyward-ceremony: 1
kind: intermediate
title: Cluster a
ca-directory: offline-ca
devices:
  root-hsm: { uri: "pkcs11:token=${token.label}", serial: "${serial}" }
  cluster-yubikey: { uri: "yubikey:", serial: 31415926 }
keys:
  root: { device: root-hsm, label: root-2026 }
  intermediate: { device: cluster-yubikey, slot: 9c, algorithm: p256 }
cluster: { id: cluster-a, crl-url: "http://pki.example/cluster-a.crl" }
certificate: { days: 730 }
outputs: { certificate: cluster-a.pem }
witnesses: [Alice Auditor, Bob Security]
`,
  );
  t.is((await token.keyward(['ceremony', 'check', intermediate], { env })).code, 0);
  const out = join(dir, 'cluster-out');
  const cluster = await token.keyward(['ceremony', 'run', intermediate, '--out', out, '--json'], { env, input: yes });
  t.is(cluster.code, 0, cluster.stdout);
  const result = JSON.parse(cluster.stdout) as { transcript: string; finalHash: string };

  const chain = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'root-out', 'root.pem'), join(out, 'cluster-a.pem')]);
  t.is(chain.stdout.trim(), `${join(out, 'cluster-a.pem')}: OK`, chain.stderr);
  const verified = await token.keyward(['ceremony', 'verify', result.transcript, '--json'], { env });
  t.like(JSON.parse(verified.stdout), { valid: true, outcome: 'done', finalHash: result.finalHash });
  const transcript = readFileSync(result.transcript, 'utf8');
  t.regex(transcript, /"type":"key\.attestation","data":\{"role":"intermediate"/);
  t.regex(transcript, /"type":"device\.bound","data":\{"device":"cluster-yubikey","uri":"yubikey:serial=31415926"/);
  for (const file of [result.transcript, join(dir, 'root-out', 'transcript.jsonl')]) {
    const text = readFileSync(file, 'utf8');
    t.false(text.includes(CLI_PIN) || text.includes('123456'), `no PIN in ${file}`);
  }
  const report = await token.keyward(['ceremony', 'report', result.transcript], { env });
  t.regex(report.stdout, /\| intermediate \| O=cluster-a, CN=swarm-ca intermediate \| `[0-9a-f]+` \|/);
  t.regex(report.stdout, new RegExp(`Final hash: \`${result.finalHash}\``));
});

test('the wizard is `ceremony wizard` (and `ceremony new`); without a terminal it asks nothing and writes nothing', async (t) => {
  const dir = tempDir(t, 'keyward-cli-wizard-');
  for (const name of ['wizard', 'new']) {
    const help = await run(process.execPath, [KEYWARD_BIN, 'ceremony', name, '--help']);
    t.regex(help.stdout, /Usage: keyward ceremony wizard\|new/, name);
    const script = join(dir, `${name}.yaml`);
    const refused = await run(process.execPath, [KEYWARD_BIN, '--no-input', 'ceremony', name, script]);
    t.not(refused.code, 0);
    t.regex(refused.stderr, /the wizard asks its questions at a terminal/);
    t.false(existsSync(script));
  }
});
