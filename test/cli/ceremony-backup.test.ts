/**
 * `keyward ceremony run` of a backup ceremony killed (SIGKILL) at each of its steps, then resumed
 * with --resume: every time the same end, one copy on the backup token with the root's public
 * key, proved against the root certificate, the key never copied twice, and a transcript that
 * verifies. The SO PIN comes from the token's own KEYWARD_SO_PIN_TOKEN_<serial>, never argv.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyTranscript, type TranscriptEntry } from '../../src/ceremony/transcript.js';
import { devicePinVariable, tokenSoPinVariable } from '../../src/keystore/device-pins.js';
import { killedRun, writeScript } from '../harness/ceremony.js';
import { CLI_PIN, CLI_SO_PIN, cliToken } from '../harness/cli-token.js';
import { keyward } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

interface Listed {
  label: string;
  serial: string;
}

test.serial('a backup ceremony killed at each step and resumed ends the same: one copy, proved, the key never copied twice', async (t) => {
  const root = await cliToken(t);
  const backupLabel = `${root.label}-backup`;
  const made = await keyward(['token', 'init', '--label', backupLabel], { env: { ...root.env, KEYWARD_SO_PIN: CLI_SO_PIN } });
  t.is(made.code, 0, made.stderr);
  const tokens = JSON.parse((await root.keyward(['token', 'list', '--json'])).stdout) as Listed[];
  const serial = (label: string) => tokens.find((token) => token.label === label)!.serial;
  const [rootSerial, backupSerial] = [serial(root.label), serial(backupLabel)];
  // Each token its own PINs; no shared KEYWARD_PIN, and the SO PIN only for the source.
  const { KEYWARD_PIN: _shared, ...storeEnv } = root.env;
  const env = {
    ...storeEnv,
    [devicePinVariable('token', rootSerial)!]: CLI_PIN,
    [devicePinVariable('token', backupSerial)!]: CLI_PIN,
    [tokenSoPinVariable(rootSerial)!]: CLI_SO_PIN,
  };
  const dir = tempDir(t, 'keyward-cli-backup-');
  const devices = `devices:\n  root-hsm: { uri: "pkcs11:token=${root.label}", serial: "${rootSerial}" }\n`;
  const rootScript = writeScript(
    dir,
    'root.yaml',
    `keyward-ceremony: 1\nkind: root\nca-directory: offline-ca\n${devices}keys:\n  root: { device: root-hsm, label: root-2026, algorithm: p256, backup: wrap }\noutputs: { certificate: root.pem }\nwitnesses: [Alice Auditor]\n`,
  );
  const rooted = await keyward(['ceremony', 'run', rootScript, '--out', join(dir, 'root-out')], { env, input: 'yes\n'.repeat(6) });
  t.is(rooted.code, 0, rooted.stderr);
  const script = writeScript(
    dir,
    'backup.yaml',
    `keyward-ceremony: 1\nkind: backup\nca-directory: offline-ca\n${devices}  backup-hsm: { uri: "pkcs11:token=${backupLabel}", serial: "${backupSerial}" }\n` +
      'keys:\n  source: { device: root-hsm, label: root-2026 }\n  backup: { device: backup-hsm, label: root-2026 }\nwitnesses: [Alice Auditor, Bob Security]\n',
  );
  const backupKey = `pkcs11:token=${backupLabel};object=root-2026`;

  // Answers before the stop, and what the ceremony is waiting for when it is killed.
  const stops: Array<[string, number, RegExp]> = [
    ['before the step', 2, /Run the backup ceremony/],
    ['transport key made, the SO not yet asked', 3, /trust the transport key/],
    ['key wrapped, the copy not yet made', 4, /Make the copy/],
    ['copy made and proved, the witnesses acknowledging', 5, /do you acknowledge/],
  ];
  for (const [where, answers, until] of stops) {
    const out = join(dir, `out-${answers}`);
    const killed = await killedRun(['ceremony', 'run', script, '--out', out], env, answers, until);
    t.is(killed.signal, 'SIGKILL', `${where}: ${killed.stderr}`);
    const transcript = join(out, 'transcript.jsonl');
    const before = verifyTranscript(transcript).entries;
    const resumed = await keyward(['ceremony', 'run', script, '--out', out, '--resume'], { env, input: 'yes\n'.repeat(12) });
    t.is(resumed.code, 0, `${where}: ${resumed.stderr}`);
    const { entries } = verifyTranscript(transcript);
    t.like(entries.find((e) => e.type === 'ceremony.end')?.data, { outcome: 'done' }, where);
    const count = (type: string, from: TranscriptEntry[] = entries) => from.filter((e) => e.type === type).length;
    t.is(count('key-copy.key-unwrapped'), 1, `${where}: the key was copied once`);
    t.is(count('key-copy.copy-found'), 0, `${where}: no copy was there to find`);
    t.like(entries.filter((e) => e.type === 'key-copy.proof').at(-1)?.data, { verified: true, verifiedWith: { certificate: 'root.pem' } }, where);
    if (answers === 5) t.is(count('key-copy.source-checked', entries.slice(before.length)), 0, `${where}: the step done before the stop is not run again`);
    const listed = JSON.parse((await keyward(['key', 'list', `pkcs11:token=${backupLabel}`, '--json'], { env })).stdout) as Array<{ label: string }>;
    t.deepEqual(
      listed.map((k) => k.label),
      ['root-2026'],
      `${where}: one copy on the backup token`,
    );
    t.false(readFileSync(transcript, 'utf8').includes(CLI_SO_PIN), `${where}: no SO PIN in the transcript`);
    // The next stop starts from a backup token without the copy.
    const deleted = await keyward(['key', 'delete', backupKey, '--yes'], { env });
    t.is(deleted.code, 0, deleted.stderr);
  }
});

test('ca use-key names another key in ca.json only if the CA certifies it', async (t) => {
  const token = await cliToken(t);
  const dir = join(tempDir(t, 'keyward-cli-use-key-'), 'ca');
  const root = `pkcs11:token=${token.label};object=root`;
  t.is((await token.keyward(['ca', 'root', 'create', '--key', root, '--generate', 'p256', '--dir', dir])).code, 0);
  t.is((await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=other`, '--algorithm', 'p256'])).code, 0);
  const other = await token.keyward(['ca', 'use-key', `pkcs11:token=${token.label};object=other`, '--dir', dir]);
  t.is(other.code, 2, other.stderr);
  t.regex(other.stderr, /is neither the key of this CA's root nor of its intermediate/);
  const same = await token.keyward(['ca', 'use-key', root, '--dir', dir, '--json']);
  t.is(same.code, 0, same.stderr);
  const record = JSON.parse(same.stdout) as { step: string; keys: Array<{ role: string }>; outputs: { rootKey: string } };
  t.like(record, { step: 'ca.use-key', keys: [{ role: 'root' }] });
  t.is((JSON.parse(readFileSync(join(dir, 'ca.json'), 'utf8')) as { rootKey: string }).rootKey, record.outputs.rootKey);
  t.notRegex(record.outputs.rootKey, /type=public/, 'ca.json names the private key that signed, not the public object found before login');
});
