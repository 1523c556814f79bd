/**
 * The backup and restore ceremonies on real SoftHSM tokens: a root made with backup: wrap, copied
 * to a backup token, its first token lost, restored from the backup onto a third token, and the CA
 * pointed at it, which then signs an intermediate that `openssl verify -x509_strict` accepts
 * against the original root. And the refusals: a root made without backup: wrap (before anything
 * changes), scripts that copy to the same token or back up what cannot be (at their line, before
 * any device), and a resumed backup that never copies twice.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { CaDirectory, useCaKey } from '../../src/ca/index.js';
import { readPriorRun } from '../../src/ceremony/resume.js';
import { reportOf } from '../../src/ceremony/report.js';
import { runCeremony } from '../../src/ceremony/runner.js';
import { parseScript, readScript, type CeremonyScript } from '../../src/ceremony/script.js';
import { scriptText } from '../../src/ceremony/wizard.js';
import { verifyTranscript, type TranscriptEntry } from '../../src/ceremony/transcript.js';
import type { KeywardError } from '../../src/errors.js';
import { findKeys } from '../../src/hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../../src/hsm/pkcs11/module.js';
import type { Token } from '../../src/hsm/pkcs11/token.js';
import { copyPublicKey } from '../../src/hsm/pkcs11/wrap.js';
import { KeyUri } from '../../src/keystore/uri/origin.js';
import { devicePinVariable, tokenSoPinVariable } from '../../src/keystore/device-pins.js';
import { createTestToken, softHsmModule, type TestToken } from '../../src/testing/softhsm.js';
import { keystoreFactory, quiet, room, tokenSerial, writeScript } from '../harness/ceremony.js';
import { keyward, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

const codeOf = (error: unknown) => (error as KeywardError).code;

/** The token behind a test token, to put objects on it that Keyward would not. */
const tokenOf = (test: TestToken): Token =>
  Pkcs11Module.open(resolveModulePath({ explicit: softHsmModule() }))
    .tokens()
    .find((t) => t.label === test.label)!;

/** Each token's user PIN and SO PIN in its own variables: a ceremony on several tokens needs no shared one. */
function pins(...tokens: TestToken[]): Record<string, string> {
  return Object.fromEntries(
    tokens.flatMap((token) => [
      [devicePinVariable('token', tokenSerial(token))!, token.userPin],
      [tokenSoPinVariable(tokenSerial(token))!, token.soPin],
    ]),
  );
}

/** A token as a script names it. */
interface Named {
  label: string;
  serial: string;
}
const named = (token: TestToken): Named => ({ label: token.label, serial: tokenSerial(token) });
const device = (name: string, token: Named) => `  ${name}: { uri: "pkcs11:token=${token.label}", serial: "${token.serial}" }\n`;

function rootWithBackup(token: Named, backup = true): string {
  return `keyward-ceremony: 1
kind: root
ca-directory: offline-ca
devices:
${device('root-hsm', token)}keys:
  root: { device: root-hsm, label: root-2026, algorithm: p384${backup ? ', backup: wrap' : ''} }
certificate: { subject: "CN=Test Root CA, O=Keyward tests", years: 10 }
outputs: { certificate: root.pem }
witnesses: [Alice Auditor]
`;
}

function copyScript(kind: 'backup' | 'restore', from: Named, to: Named): string {
  const [fromRole, toRole, fromDevice, toDevice] =
    kind === 'backup' ? ['source', 'backup', 'root-hsm', 'backup-hsm'] : ['backup', 'restored', 'backup-hsm', 'new-root-hsm'];
  return `keyward-ceremony: 1
kind: ${kind}
ca-directory: offline-ca
devices:
${device(fromDevice, from)}${device(toDevice, to)}keys:
  ${fromRole}:
    device: ${fromDevice}
    label: root-2026
  ${toRole}:
    device: ${toDevice}
    label: root-2026
witnesses: [Alice Auditor, Bob Security]
`;
}

const ofType = (entries: TranscriptEntry[], type: string) => entries.filter((e) => e.type === type).map((e) => e.data);

async function runScript(dir: string, name: string, text: string, env: Record<string, string>, out = `${name}-out`) {
  return runCeremony(readScript(writeScript(dir, name, text)), { out: join(dir, out), keystore: keystoreFactory(env), interaction: quiet, witnessing: room() });
}

test('backed up, the first token lost, restored onto a third: the CA names the restored key, which signs an intermediate the original root verifies', async (t) => {
  const [first, backup, replacement, online] = await Promise.all([createTestToken(), createTestToken(), createTestToken(), createTestToken()]);
  t.teardown(() => Promise.all([first, backup, replacement, online].map((token) => token.close())));
  const dir = tempDir(t, 'keyward-ceremony-backup-');
  const env = pins(first, backup, replacement, online);

  const root = await runScript(dir, 'root.yaml', rootWithBackup(named(first)), env);
  const made = verifyTranscript(root.transcript).entries.find((e) => e.type === 'key.ready')!.data;
  t.like(made, { role: 'root', generated: true, backup: 'wrap' }, 'the key parameter is on record');
  const rootPem = readFileSync(join(dir, 'offline-ca', 'root.pem'), 'utf8');

  const backedUp = await runScript(dir, 'backup.yaml', copyScript('backup', named(first), named(backup)), env);
  const { entries } = verifyTranscript(backedUp.transcript);
  t.deepEqual(
    entries.filter((e) => e.type.startsWith('key-copy.')).map((e) => e.type),
    ['key-copy.source-checked', 'key-copy.transport-made', 'key-copy.transport-trusted', 'key-copy.key-wrapped', 'key-copy.key-unwrapped', 'key-copy.proof'],
  );
  const [checked, transport, trusted, , unwrapped, proof] = entries.filter((e) => e.type.startsWith('key-copy.')).map((e) => e.data);
  t.like(checked, { serial: tokenSerial(first), attributes: { sensitive: true, extractable: true, wrapWithTrusted: true } });
  t.like(transport, { serial: tokenSerial(backup), bits: 3072 });
  t.like(trusted, { serial: tokenSerial(first), spkiSha256: transport!.spkiSha256 }, "the wrapping key's fingerprint, as the SO trusted it");
  t.like(unwrapped, {
    serial: tokenSerial(backup),
    spkiSha256: checked!.spkiSha256,
    attributes: { sensitive: true, extractable: true, wrapWithTrusted: true },
  });
  t.like(proof, { verified: true, verifiedWith: { certificate: 'root.pem', subject: 'CN=Test Root CA, O=Keyward tests' } });
  t.true(
    ofType(entries, 'prompt').some((p) => /Security Officer of token .*: trust the transport key/.test(String(p.question))),
    'the SO was asked before trusting the transport key',
  );
  const text = readFileSync(backedUp.transcript, 'utf8');
  for (const secret of [first.userPin, first.soPin, backup.userPin]) t.false(text.includes(secret), 'no PIN in the transcript');
  t.regex(reportOf(backedUp.transcript, 'markdown'), /\| backup \| copied \| token "[^"]+" \(SoftHSM v2, serial [0-9a-f]+\) \|/);

  // The root's first token is lost: its key is gone.
  await first.keystore.delete(first.keyUri('root-2026'));
  const restored = await runScript(dir, 'restore.yaml', copyScript('restore', named(backup), named(replacement)), env);
  const restoredEntries = verifyTranscript(restored.transcript).entries;
  const steps = ofType(restoredEntries, 'step.done');
  t.deepEqual(
    steps.map((s) => s.step),
    ['ceremony.restore', 'ca.use-key'],
  );
  const proofs = ofType(restoredEntries, 'key-copy.proof');
  t.is(proofs.length, 1, 'the restored key is proved once, by the use-key step');
  t.like(proofs[0], { verified: true, verifiedWith: { certificate: 'root.pem' } });
  const config = JSON.parse(readFileSync(join(dir, 'offline-ca', 'ca.json'), 'utf8')) as { rootKey: string };
  t.regex(config.rootKey, new RegExp(`serial=${tokenSerial(replacement)};token=${replacement.label};.*object=root-2026`), 'ca.json names the restored key');
  t.is(readFileSync(join(dir, 'offline-ca', 'root.pem'), 'utf8'), rootPem, 'the root certificate is the original');

  // The restored root signs a cluster intermediate; OpenSSL checks it against the original root.
  await runScript(
    dir,
    'intermediate.yaml',
    `keyward-ceremony: 1
kind: intermediate
ca-directory: offline-ca
devices:
${device('new-root-hsm', named(replacement))}${device('online', named(online))}keys:
  root: { device: new-root-hsm, label: root-2026 }
  intermediate: { device: online, label: cluster-a, algorithm: p256, backup: wrap }
cluster: { id: cluster-a }
certificate: { days: 365 }
outputs: { certificate: cluster-a.pem }
witnesses: [Alice Auditor]
`,
    env,
  );
  const original = join(dir, 'original-root.pem');
  writeFileSync(original, rootPem);
  const chain = await run('openssl', ['verify', '-x509_strict', '-CAfile', original, join(dir, 'intermediate.yaml-out', 'cluster-a.pem')]);
  t.is(chain.code, 0, chain.stdout + chain.stderr);
  const verified = await keyward(['ceremony', 'verify', restored.transcript, '--json']);
  t.is(verified.code, 0, verified.stderr);

  // The intermediate's key, made with backup: wrap too, is backed up and proved against intermediate.pem.
  const intermediateBackup = await runScript(
    dir,
    'intermediate-backup.yaml',
    copyScript('backup', named(online), named(backup))
      .replace('root-hsm: {', 'online: {')
      .replace('device: root-hsm', 'device: online')
      .replaceAll('label: root-2026', 'label: cluster-a'),
    env,
  );
  t.like(ofType(verifyTranscript(intermediateBackup.transcript).entries, 'key-copy.proof')[0], {
    verified: true,
    verifiedWith: { certificate: 'intermediate.pem', subject: 'O=cluster-a, CN=swarm-ca intermediate' },
  });
});

test("ca use-key proves the key: a public key object alone (a restore stopped before the unwrap), or another private key under the root's public key, is refused", async (t) => {
  const [first, other] = await Promise.all([createTestToken(), createTestToken()]);
  t.teardown(() => Promise.all([first.close(), other.close()]));
  const dir = tempDir(t, 'keyward-ceremony-use-key-');
  await runScript(dir, 'root.yaml', rootWithBackup(named(first)), pins(first, other));
  const directory = new CaDirectory(join(dir, 'offline-ca'));
  const config = readFileSync(join(dir, 'offline-ca', 'ca.json'), 'utf8');
  const [root] = findKeys(tokenOf(first), { label: 'root-2026' });
  const target = tokenOf(other);

  // The root's public key object, without its private key: what a restore stopped before the unwrap leaves.
  copyPublicKey(target, root!, { keyType: pkcs11js.CKK_EC, id: Buffer.from('half'), label: 'half' });
  const half = await t.throwsAsync(useCaKey(directory, other.keystore, { key: KeyUri.of(other.keyUri('half')) }));
  t.is(codeOf(half), 'NOT_A_PRIVATE_KEY');
  t.regex(half!.message, /has the root key's public key but no private key/);
  t.regex((half as KeywardError).hint ?? '', /--resume/);

  // Another private key, its own public key object swapped for the root's.
  const planted = await other.keystore.generate(other.keyUri('planted'), { algorithm: 'p384' });
  t.not(Buffer.from(await planted.publicKey()).toString('hex'), Buffer.from(root!.spki()).toString('hex'));
  const [own] = findKeys(target, { label: 'planted' });
  target.destroyObject(own!.publicKey!, 'test: remove the public key of the planted key');
  copyPublicKey(target, root!, { keyType: pkcs11js.CKK_EC, id: own!.id, label: 'planted' });
  const swapped = await t.throwsAsync(useCaKey(directory, other.keystore, { key: KeyUri.of(other.keyUri('planted')) }));
  t.is(codeOf(swapped), 'KEY_COPY_PROOF_FAILED');
  t.regex(swapped!.message, /signed a challenge that does not verify with root\.pem/);
  t.is(readFileSync(join(dir, 'offline-ca', 'ca.json'), 'utf8'), config, 'ca.json still names the root key');

  // The root key itself passes, and the record says how it was proved.
  const used = await useCaKey(directory, first.keystore, { key: KeyUri.of(first.keyUri('root-2026')) });
  t.regex(used.outputs.proof ?? '', /signed a fresh challenge .* verifies with root\.pem/);
});

test('a root made without backup: wrap is refused by the backup ceremony at the key, before anything changes; the refusal is on record', async (t) => {
  const [first, backup] = await Promise.all([createTestToken(), createTestToken()]);
  t.teardown(() => Promise.all([first.close(), backup.close()]));
  const dir = tempDir(t, 'keyward-ceremony-backup-');
  const env = pins(first, backup);
  await runScript(dir, 'root.yaml', rootWithBackup(named(first), false), env);
  const error = await t.throwsAsync(runScript(dir, 'backup.yaml', copyScript('backup', named(first), named(backup)), env));
  t.is(codeOf(error), 'KEY_NOT_WRAPPABLE');
  t.regex(error!.message, /backup\.yaml:8:3: keys\.source: key "root-2026" on token ".*" cannot be copied under wrap: it was made non-extractable/);
  const { entries } = verifyTranscript(join(dir, 'backup.yaml-out', 'transcript.jsonl'));
  t.like(ofType(entries, 'ceremony.failed')[0], { stage: 'backup', code: 'KEY_NOT_WRAPPABLE' });
  t.deepEqual(
    entries.filter((e) => e.type.startsWith('key-copy.')),
    [],
    'no transport key made, no SO asked',
  );
  t.deepEqual(await backup.keystore.list(backup.uri), [], 'nothing on the backup token');
});

test('scripts that copy to the same token, or back up what cannot be, are refused at their line before any device', (t) => {
  const dir = tempDir(t, 'keyward-ceremony-backup-');
  const fake = (label: string, serial: string): Named => ({ label, serial });
  const problems = (name: string, text: string) => {
    const error = t.throws(() => parseScript(text, join(dir, name)));
    t.is(codeOf(error), 'CEREMONY_SCRIPT_INVALID');
    return ((error as KeywardError).details as { problems: Array<{ path: string; line: number; message: string }> }).problems;
  };
  const a = fake('root', 'aaaa');
  const sameDevice = copyScript('backup', a, fake('backup', 'bbbb')).replace('    device: backup-hsm\n', '    device: root-hsm\n');
  t.like(
    problems('same-device.yaml', sameDevice).find((p) => p.path === 'keys.backup.device'),
    { line: 12, message: 'is device "root-hsm", where the source key is: a copy goes to a second token' },
  );
  const sameSerial = copyScript('backup', a, fake('backup', 'aaaa'));
  t.like(problems('same-serial.yaml', sameSerial)[0], {
    path: 'keys.backup.device',
    message: 'is device "root-hsm" again (serial aaaa), where the source key is: a copy goes to a second token',
  });
  const rootText = rootWithBackup(a);
  t.like(problems('ed.yaml', rootText.replace('algorithm: p384', 'algorithm: ed25519'))[0], { path: 'keys.root.backup', line: 7 });
  t.like(
    problems(
      'yubikey.yaml',
      rootText.replace('uri: "pkcs11:token=root", serial: "aaaa"', 'uri: "yubikey:", serial: 12345678').replace('label: root-2026', 'slot: 9c'),
    )[0],
    {
      path: 'keys.root.backup',
      message: 'needs a PKCS#11 token: a YubiKey key never leaves the card',
    },
  );
  t.like(problems('other.yaml', rootText.replace('backup: wrap', 'backup: export'))[0], { path: 'keys.root.backup' });
  t.like(
    problems(
      'algorithm.yaml',
      copyScript('backup', a, fake('backup', 'bbbb')).replace('    label: root-2026\nwitnesses', '    label: root-2026\n    algorithm: p384\nwitnesses'),
    )[0],
    {
      path: 'keys.backup.algorithm',
      message: "is the copied key's own: the backup key is a copy",
    },
  );
  const existing = copyScript('restore', a, fake('new', 'cccc')).replace(
    '  backup:\n    device: backup-hsm\n    label: root-2026\n',
    '  backup:\n    device: backup-hsm\n    label: root-2026\n    backup: wrap\n',
  );
  t.like(problems('existing.yaml', existing)[0], {
    path: 'keys.backup.backup',
    message: 'is for a key made in this ceremony; a restore ceremony does not make the backup key',
  });
});

test('a backup resumed after the machine died: a copy already made is found, never made again; a wrap the stop cut short is made again', async (t) => {
  const [first, backup] = await Promise.all([createTestToken(), createTestToken()]);
  t.teardown(() => Promise.all([first.close(), backup.close()]));
  const dir = tempDir(t, 'keyward-ceremony-backup-');
  const env = pins(first, backup);
  await runScript(dir, 'root.yaml', rootWithBackup(named(first)), env);
  const script: CeremonyScript = readScript(writeScript(dir, 'backup.yaml', copyScript('backup', named(first), named(backup))));
  const keys = async () => (await backup.keystore.list(backup.uri)).map((k) => k.label);

  /** A run stopped where a dead machine would have left the transcript: up to and with the first entry of `type`. */
  const diedAfter = async (out: string, type: string) => {
    await runCeremony(script, { out: join(dir, out), keystore: keystoreFactory(env), interaction: quiet, witnessing: room() });
    const file = join(dir, out, 'transcript.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, `${lines.slice(0, lines.findIndex((line) => (JSON.parse(line) as { type: string }).type === type) + 1).join('\n')}\n`);
    return file;
  };
  const resume = (out: string) =>
    runCeremony(script, { out: join(dir, out), keystore: keystoreFactory(env), interaction: quiet, witnessing: room(), resume: true });
  const spki = async () => Buffer.from(await (await backup.keystore.open(backup.keyUri('root-2026'))).publicKey()).toString('hex');

  // Died right after the unwrap, before the copy's key.ready: the copy is on the token, unrecorded.
  const file = await diedAfter('unwrapped-out', 'key-copy.key-unwrapped');
  const copied = await spki();
  t.is(readPriorRun(script, join(dir, 'unwrapped-out')).done, undefined);
  const result = await resume('unwrapped-out');
  const after = verifyTranscript(result.transcript).entries;
  const resumedAt = after.findIndex((e) => e.type === 'ceremony.resumed');
  t.deepEqual(
    after
      .slice(resumedAt)
      .filter((e) => e.type.startsWith('key-copy.'))
      .map((e) => e.type),
    ['key-copy.source-checked', 'key-copy.copy-found', 'key-copy.proof'],
    'found, not wrapped or made again',
  );
  t.deepEqual(await keys(), ['root-2026'], 'one copy on the backup token');
  t.is(await spki(), copied);
  t.is(file, result.transcript);

  // Died after the wrap, before the unwrap: the wrapped key died with the process, and no copy is there.
  await backup.keystore.delete(backup.keyUri('root-2026'));
  await diedAfter('wrapped-out', 'key-copy.key-wrapped');
  await backup.keystore.delete(backup.keyUri('root-2026'));
  const rewrapped = verifyTranscript((await resume('wrapped-out')).transcript).entries;
  const types = rewrapped.filter((e) => e.type.startsWith('key-copy.')).map((e) => e.type);
  t.is(types.filter((type) => type === 'key-copy.key-wrapped').length, 2, 'wrapped again: the first wrapped key was in memory only');
  t.is(types.filter((type) => type === 'key-copy.key-unwrapped').length, 1, 'made once');
  t.deepEqual(await keys(), ['root-2026']);
});

test("the wizard's answers make backup and restore scripts, and a root whose key can be backed up", (t) => {
  const dir = tempDir(t, 'keyward-ceremony-backup-');
  const common = { deviceKind: 'pkcs11' as const, token: 'offline-root', serial: '4b3f9a0c2d1e8f70', rootLabel: 'root-2026', witnesses: ['Alice'] };
  const root = parseScript(
    scriptText({ ...common, kind: 'root', algorithm: 'p384', backup: true, subject: 'CN=Wizard Root', years: 20 }),
    join(dir, 'root.yaml'),
  );
  t.like(root.keys.root, { label: 'root-2026', algorithm: 'p384', backup: 'wrap' });
  const backup = parseScript(scriptText({ ...common, kind: 'backup', target: { token: 'root-backup', serial: '7d21c09e55a3b614' } }), join(dir, 'backup.yaml'));
  t.like(backup, {
    kind: 'backup',
    devices: { 'root-hsm': { uri: 'pkcs11:token=offline-root' }, 'backup-hsm': { uri: 'pkcs11:token=root-backup', serial: '7d21c09e55a3b614' } },
    keys: { source: { device: 'root-hsm', label: 'root-2026' }, backup: { device: 'backup-hsm', label: 'root-2026' } },
  });
  const restore = parseScript(scriptText({ ...common, kind: 'restore', token: 'root-backup', target: { token: 'offline-root-2' } }), join(dir, 'restore.yaml'));
  t.like(restore, { kind: 'restore', keys: { backup: { device: 'backup-hsm' }, restored: { device: 'new-root-hsm' } } });
  // The same token twice is refused as a written script would be.
  t.throws(() => scriptText({ ...common, kind: 'backup', target: { token: 'offline-root', serial: '4b3f9a0c2d1e8f70' } }), { code: 'CEREMONY_SCRIPT_INVALID' });
});
