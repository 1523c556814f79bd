/**
 * `keyward ceremony run --resume`: a root ceremony on a real SoftHSM token is killed (SIGKILL) after
 * the key is made, while the witnesses look at the draft certificate; resumed, it reopens that very
 * key (never makes another), appends to the same chain, and its root passes openssl verify -x509_strict.
 */
import test from 'ava';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { killedRun, rootScript, writeScript } from '../harness/ceremony.js';
import { cliToken } from '../harness/cli-token.js';
import { KEYWARD_BIN, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

interface Entry {
  type: string;
  data: Record<string, unknown>;
}
const entriesOf = (path: string): Entry[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Entry);

test.serial('a root ceremony killed after its key was made resumes with that key, into the same verified chain', async (t) => {
  const token = await cliToken(t);
  const dir = tempDir(t, 'keyward-cli-resume-');
  const list = JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout) as Array<{ label: string; serial: string }>;
  const serial = list.find((entry) => entry.label === token.label)!.serial;
  const script = writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial }));
  const out = join(dir, 'root-out');
  const transcript = join(out, 'transcript.jsonl');

  // Two witnesses and the go-ahead; killed while the draft certificate waits for approval.
  const killed = await killedRun(['ceremony', 'run', script, '--out', out], token.env, 3, /Draft root certificate/);
  t.is(killed.signal, 'SIGKILL', killed.stderr);
  const before = entriesOf(transcript);
  t.false(
    before.some((e) => e.type === 'ceremony.end'),
    'the killed ceremony did not end',
  );
  const made = before.find((e) => e.type === 'key.ready')!;
  t.true(made.data.generated as boolean);
  t.false(existsSync(join(out, 'root.pem')));
  // The machine died while writing the next line: half of it is there.
  const torn = '{"seq":99,"prev":"';
  appendFileSync(transcript, torn);

  const resumed = await token.keyward(['ceremony', 'run', script, '--out', out, '--resume'], { input: 'yes\n'.repeat(12) });
  t.is(resumed.code, 0, resumed.stderr);
  const after = entriesOf(transcript);
  t.deepEqual(after.slice(0, before.length), before, 'the resumed run appended to the same transcript');
  t.is(after[before.length]!.type, 'ceremony.resumed');
  t.is(after[before.length]!.data.tornLine, torn, 'the unfinished line is cut off, and on record');
  const reopened = after.slice(before.length).filter((e) => e.type === 'key.ready');
  t.is(reopened.length, 1);
  t.false(reopened[0]!.data.generated as boolean, 'the key was opened, not made again');
  t.is(reopened[0]!.data.publicKey, made.data.publicKey);
  const keys = JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout) as Array<{ label?: string }>;
  t.is(keys.filter((k) => k.label === 'root-2026').length, 1, 'one root key on the token');

  const verified = await token.keyward(['ceremony', 'verify', transcript, '--json']);
  t.is(verified.code, 0, verified.stderr);
  t.is((JSON.parse(verified.stdout) as { outcome: string }).outcome, 'done');
  const report = await token.keyward(['ceremony', 'report', transcript]);
  t.regex(report.stdout, /Resumed at \S+ after the machine stopped/);
  t.regex(report.stdout, /\| root \| made \(before the stop\) \|/);
  t.is(report.stdout.match(/\| root-hsm \|/g)?.length, 1, 'the device, bound before and after the stop, listed once');
  const root = join(out, 'root.pem');
  const strict = await run('openssl', ['verify', '-x509_strict', '-CAfile', root, root]);
  t.is(strict.code, 0, strict.stderr + strict.stdout);

  // A ceremony that ended is not resumed; nor is a transcript of another script.
  const again = await token.keyward(['ceremony', 'run', script, '--out', out, '--resume'], { input: 'yes\n'.repeat(12) });
  t.is(again.code, 7, 'CEREMONY_RESUME_REFUSED: a conflict');
  t.regex(again.stderr, /the ceremony ended \(done\)/);
  const other = writeScript(dir, 'other.yaml', rootScript({ label: token.label, serial }, { years: 2 }));
  const foreign = await token.keyward(['ceremony', 'run', other, '--out', out, '--resume'], { input: 'yes\n'.repeat(12) });
  t.is(foreign.code, 7);
  t.regex(foreign.stderr, /is the transcript of another script/);
  t.is(entriesOf(transcript).length, after.length, 'a refused resume writes nothing');
});

test.serial('a ceremony killed after it wrote its certificate reuses it on resume; a key swapped for another under its label is refused', async (t) => {
  const token = await cliToken(t);
  const dir = tempDir(t, 'keyward-cli-resume-');
  const list = JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout) as Array<{ label: string; serial: string }>;
  const serial = list.find((entry) => entry.label === token.label)!.serial;
  const script = writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial }));

  // Killed while the witnesses acknowledge: the certificate is signed, recorded and written.
  const out = join(dir, 'written-out');
  const killed = await killedRun(['ceremony', 'run', script, '--out', out], token.env, 4, /output \S*root\.pem\n {2}sha256 [0-9a-f]{64}/);
  t.is(killed.signal, 'SIGKILL', killed.stderr);
  const written = readFileSync(join(out, 'root.pem'));
  const before = entriesOf(join(out, 'transcript.jsonl'));
  const resumed = await token.keyward(['ceremony', 'run', script, '--out', out, '--resume'], { input: 'yes\n'.repeat(12) });
  t.is(resumed.code, 0, resumed.stderr);
  const added = entriesOf(join(out, 'transcript.jsonl')).slice(before.length);
  t.deepEqual(
    added.filter((e) => ['key.ready', 'certificate.draft', 'step.done', 'output.written'].includes(e.type)),
    [],
    'nothing made, drafted or signed again',
  );
  t.is(added.filter((e) => e.type === 'output.reused').length, 1);
  t.deepEqual(readFileSync(join(out, 'root.pem')), written);
  const verified = JSON.parse((await token.keyward(['ceremony', 'verify', join(out, 'transcript.jsonl'), '--json'])).stdout) as {
    signatures: Array<{ signer: string }>;
  };
  t.deepEqual(verified.signatures.map((s) => s.signer).sort(), ['ceremony', 'root'], 'signed by the new ceremony key and the root made before the stop');

  // Killed after the key was made; someone puts another key under its label: the resumed run refuses it before it signs.
  const token2 = await cliToken(t);
  const serial2 = (JSON.parse((await token2.keyward(['token', 'list', '--json'])).stdout) as Array<{ label: string; serial: string }>).find(
    (entry) => entry.label === token2.label,
  )!.serial;
  const dir2 = tempDir(t, 'keyward-cli-resume-'); // its own CA directory beside the script
  const script2 = writeScript(dir2, 'root.yaml', rootScript({ label: token2.label, serial: serial2 }));
  const out2 = join(dir2, 'swapped-out');
  t.is((await killedRun(['ceremony', 'run', script2, '--out', out2], token2.env, 3, /Draft root certificate/)).signal, 'SIGKILL');
  const uri = `pkcs11:token=${token2.label};object=root-2026`;
  t.is((await token2.keyward(['key', 'delete', uri, '--yes'])).code, 0);
  t.is((await token2.keyward(['key', 'generate', uri, '--algorithm', 'p384', '--yes'])).code, 0);
  const swapped = await token2.keyward(['ceremony', 'run', script2, '--out', out2, '--resume'], { input: 'yes\n'.repeat(12) });
  t.is(swapped.code, 7, swapped.stderr);
  t.regex(swapped.stderr, /is not the key made before the ceremony stopped/);
  const entries = entriesOf(join(out2, 'transcript.jsonl'));
  t.false(
    entries.some((e) => e.type === 'certificate.draft' && entries.indexOf(e) > entries.findIndex((x) => x.type === 'ceremony.resumed')),
    'nothing drafted with it',
  );
  t.is(entries.find((e) => e.type === 'ceremony.failed')?.data.code, 'CEREMONY_RESUME_MISMATCH');
  t.is((await token2.keyward(['ceremony', 'verify', join(out2, 'transcript.jsonl')])).code, 0, 'the stopped resume is on record and verifies');
});

test('--resume continues a real ceremony: with --dry-run it is refused before anything is done', async (t) => {
  const dir = tempDir(t, 'keyward-cli-resume-');
  const script = writeScript(dir, 'root.yaml', rootScript({ label: 'nowhere', serial: '0000000000000000' }));
  const refused = await run(process.execPath, [KEYWARD_BIN, '--no-input', 'ceremony', 'run', script, '--out', join(dir, 'out'), '--resume', '--dry-run']);
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /--resume continues a real ceremony/);
  t.false(existsSync(join(dir, 'out')));
});
