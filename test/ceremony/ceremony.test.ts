/**
 * Ceremonies from scripts on real SoftHSM tokens and virtual YubiKeys: the root ceremony end to end,
 * its transcript verified and tampering named, and the refusals a security officer would try: a
 * script error (at its line, before any device), a swapped device, an output that exists, a wrong
 * PIN (recorded). Then a split intermediate ceremony across an online YubiKey and the offline root.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCeremony } from '../../src/ceremony/runner.js';
import { parseScript, readScript } from '../../src/ceremony/script.js';
import { verifyTranscript } from '../../src/ceremony/transcript.js';
import { scriptText } from '../../src/ceremony/wizard.js';
import { KeywardError } from '../../src/errors.js';
import { Repository } from '../../src/trust/repository/repository.js';
import { signerOf } from '../../src/trust/signer.js';
import { createTestToken } from '../../src/testing/softhsm.js';
import { createTestYubiKey, FACTORY_PIN } from '../../src/testing/virtual-yubikey.js';
import { keystoreFactory, quiet, room, rootScript, tokenSerial, writeScript } from '../harness/ceremony.js';
import { keyward, run } from '../harness/run.js';
import { markerModule } from '../harness/marker-module.js';
import { tempDir } from '../harness/temp.js';

const codeOf = (error: unknown) => (error as KeywardError).code;

test('a root ceremony from a script: the root in the token, openssl accepts it, the transcript verifies and names a changed, removed or moved line', async (t) => {
  const token = await createTestToken();
  t.teardown(() => token.close());
  const dir = tempDir(t, 'keyward-ceremony-');
  const script = readScript(writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial: tokenSerial(token) })));
  const witnesses = room();
  const out = join(dir, 'out');
  const result = await runCeremony(script, { out, keystore: keystoreFactory(token.userPin), interaction: quiet, witnessing: witnesses });

  const rootPem = readFileSync(join(out, 'root.pem'), 'utf8');
  t.is(rootPem, readFileSync(join(dir, 'offline-ca', 'root.pem'), 'utf8'), 'the output is the root the CA directory holds');
  const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(out, 'root.pem'), join(out, 'root.pem')]);
  t.is(verified.code, 0, verified.stdout + verified.stderr);
  t.truthy(await token.keystore.open(token.keyUri('root-2026')), 'the key is in the token');
  t.true(
    witnesses.asked.some((q) => /Sign this root certificate/.test(q)),
    'the draft was put to the witnesses before the device signed',
  );
  t.true(
    witnesses.shown.some((s) => /Draft root certificate[\s\S]+ok {3}name constraints/.test(s)),
    'and shown with its lint',
  );

  const transcript = verifyTranscript(result.transcript);
  t.is(transcript.finalHash, result.finalHash);
  t.deepEqual(
    transcript.signatures.map((s) => s.signer),
    ['ceremony', 'root'],
  );
  const text = readFileSync(result.transcript, 'utf8');
  t.false(text.includes(token.userPin), 'no PIN in the transcript');
  const types = transcript.entries.map((e) => e.type);
  t.like(types, { 0: 'ceremony.start' });
  for (const type of ['device.bound', 'certificate.draft', 'step.done', 'output.written', 'witness.acknowledged', 'ceremony.end'])
    t.true(types.includes(type), type);
  const draft = transcript.entries.find((e) => e.type === 'certificate.draft')!;
  const done = transcript.entries.find((e) => e.type === 'step.done')!.data as { certificates: Array<{ sha256: string; serial: string }> };
  t.is(draft.data.serial, done.certificates[0]!.serial, 'the certificate signed is the draft linted');
  const cli = await keyward(['ceremony', 'verify', result.transcript, '--json']);
  t.like(JSON.parse(cli.stdout), { finalHash: result.finalHash, outputs: [{ name: 'certificate', status: 'unchanged' }] }, cli.stderr);

  const lines = text.trimEnd().split('\n');
  const tampered = (name: string, changed: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, `${changed.join('\n')}\n`);
    const error = t.throws(() => verifyTranscript(file));
    t.is(codeOf(error), 'TRANSCRIPT_TAMPERED');
    return (error as KeywardError).details as { line: number };
  };
  const byte = lines.map((line, i) => (i === 4 ? line.replace(/"at":"2/, '"at":"3') : line));
  t.is(tampered('byte.jsonl', byte).line, 5, 'one byte changed: its line');
  t.is(
    tampered(
      'removed.jsonl',
      lines.filter((_, i) => i !== 2),
    ).line,
    3,
    'a line removed: where it was',
  );
  t.is(tampered('swapped.jsonl', [...lines.slice(0, 3), lines[4]!, lines[3]!, ...lines.slice(5)]).line, 4, 'two lines swapped: the first');
  t.is(tampered('cut.jsonl', lines.slice(0, -1)).line, lines.length - 1, 'the root signature cut off');
  const verify = await keyward(['ceremony', 'verify', join(dir, 'byte.jsonl')]);
  t.is(verify.code, 6);
  t.regex(verify.stderr, /line 5 \(entry 4\) was changed/);
  // An output changed after the ceremony is named with the transcript line that recorded it.
  writeFileSync(join(out, 'root.pem'), rootPem.replace('MII', 'MIJ'));
  const changed = await keyward(['ceremony', 'verify', result.transcript]);
  t.is(changed.code, 6);
  t.regex(changed.stderr, /root\.pem is not the certificate the ceremony wrote \(.*transcript\.jsonl, line \d+\)/);
});

test('a script error is named at its line and column, all of them at once, before any device is opened', async (t) => {
  const dir = tempDir(t, 'keyward-ceremony-');
  const text = rootScript({ label: 'offline-root', serial: '1a2b3c4d5e6f7a8b' })
    .replace('    algorithm: p384', '    algorithm: p512')
    .replace('  years: 20', '  years: "twenty"')
    .replace('    device: root-hsm', '    device: root-hms');
  const file = writeScript(dir, 'bad.yaml', text);
  const error = t.throws(() => readScript(file));
  t.is(codeOf(error), 'CEREMONY_SCRIPT_INVALID');
  const problems = ((error as KeywardError).details as { problems: Array<{ path: string; line: number }> }).problems;
  t.deepEqual(
    problems.map((p) => [p.path, p.line]),
    [
      ['devices.root-hsm', 7],
      ['keys.root.device', 11],
      ['keys.root.algorithm', 13],
      ['certificate.years', 16],
    ],
  );
  t.regex((error as Error).message, new RegExp(`${file}:13:16: keys.root.algorithm: "p512" is not an algorithm`));
  // The same through the CLI: exit 2, the places on stderr, and nothing made.
  const checked = await keyward(['ceremony', 'run', file, '--out', join(dir, 'out')]);
  t.is(checked.code, 2);
  t.regex(checked.stderr, /bad\.yaml:16:10: certificate\.years: must be a whole number/);
  t.false(existsSync(join(dir, 'out')));
  t.false(existsSync(join(dir, 'offline-ca')));
  // Malformed YAML, unknown fields, and two outputs to one file.
  const yamlError = t.throws(() => parseScript('keyward-ceremony: 1\nkind: [root\n', join(dir, 'x.yaml')));
  t.regex((yamlError as Error).message, /x\.yaml:\d+:\d+:/);
  const overlap = t.throws(() =>
    parseScript(
      rootScript({ label: 'x', serial: '1' })
        .replace('kind: root', 'kind: root-rotation')
        .replace(
          'keys:\n  root:\n    device: root-hsm\n    label: root-2026\n    algorithm: p384',
          'keys:\n  root: { device: root-hsm, label: root-2025 }\n  new-root: { device: root-hsm, label: root-2026, algorithm: p384 }',
        )
        .replace('  certificate: root.pem', '  root: new.pem\n  cross-signed: new.pem\n  colour: blue'),
      join(dir, 'rotation.yaml'),
    ),
  );
  t.regex((overlap as Error).message, /rotation\.yaml:17:\d+: outputs\.cross-signed: "new\.pem" is already outputs\.root/);
  t.regex((overlap as Error).message, /rotation\.yaml:18:\d+: outputs\.colour: is not a field here/);
});

test('a script refuses control and format characters in its names and text, each at its line and column', (t) => {
  const text = rootScript({ label: 'offline-root', serial: '1a2b3c4d5e6f7a8b' })
    .replace('title: Test root ceremony', 'title: "Root\\e[2J ceremony"')
    .replace('  root-hsm:\n', '  "root-hsm\\a":\n    uri: "pkcs11:token=other"\n  root-hsm:\n')
    .replace('    label: root-2026', '    label: "root\\t2026"')
    .replace('  subject: "CN=Test Root CA, O=Keyward tests"', '  subject: "CN=Test Root CA\\u202e, O=Keyward tests"')
    .replace('  - Bob Security', '  - "Bob\\n\\n- line 7, 00:00:00: root key made on the real HSM"\n  - |\n    Carol\n    Dave');
  const error = t.throws(() => parseScript(text, '/tmp/controls.yaml')) as KeywardError;
  t.is(error.code, 'CEREMONY_SCRIPT_INVALID');
  const problems = (error.details as { problems: Array<{ path: string; line: number; col: number; message: string }> }).problems;
  t.deepEqual(
    problems.map((p) => [p.path, p.line, p.col]),
    [
      ['title', 3, 8],
      ['devices.root-hsm\\u0007', 6, 3],
      ['keys.root.label', 14, 12],
      ['certificate.subject', 17, 12],
      ['witnesses[1]', 23, 5],
      ['witnesses[2]', 24, 5],
    ],
  );
  t.regex(problems[0]!.message, /holds a control or format character \(\\u001b\)/);
  t.regex(problems[4]!.message, /\(\\n\)/);
  t.false(/(?!\n)[\p{Cc}\p{Cf}]/u.test(error.message), 'the error holds none either');
});

test('a validity beyond the issuer is refused at its line before any device, and on record; so are a device swapped for another and a key label already taken, and nothing is made', async (t) => {
  const token = await createTestToken();
  t.teardown(() => token.close());
  const dir = tempDir(t, 'keyward-ceremony-');
  const serial = tokenSerial(token);
  await runCeremony(readScript(writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial }, { years: 2 }))), {
    out: join(dir, 'root-out'),
    keystore: keystoreFactory(token.userPin),
    interaction: quiet,
    witnessing: room(),
  });
  const intermediate = (days: number, intermediateSerial: string) => `keyward-ceremony: 1
kind: intermediate
ca-directory: offline-ca
devices:
  root-hsm: { uri: "pkcs11:token=${token.label}", serial: "${serial}" }
  online: { uri: "pkcs11:token=${token.label}-online", serial: "${intermediateSerial}" }
keys:
  root: { device: root-hsm, label: root-2026 }
  intermediate: { device: online, label: cluster-a, algorithm: p256 }
cluster: { id: cluster-a }
certificate:
  days: ${days}
outputs: { certificate: intermediate.pem }
witnesses: [Alice Auditor]
`;
  const opened: string[] = [];
  const long = readScript(writeScript(dir, 'long.yaml', intermediate(3650, serial)));
  const error = await t.throwsAsync(
    runCeremony(long, { out: join(dir, 'long-out'), keystore: keystoreFactory(token.userPin, [], opened), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(error), 'VALIDITY_EXCEEDS_ISSUER');
  t.regex(error!.message, /long\.yaml:11:1: certificate: /);
  t.deepEqual(opened, [], 'no keystore was made, no device opened');
  t.like(verifyTranscript(join(dir, 'long-out', 'transcript.jsonl')).entries.find((e) => e.type === 'ceremony.failed')?.data, {
    stage: 'check',
    code: 'VALIDITY_EXCEEDS_ISSUER',
  });
  t.deepEqual(readdirSync(join(dir, 'long-out')), ['transcript.jsonl'], 'the refusal is on record; nothing else was written');

  // The script binds the root's token by serial; a token with the same label but another serial is not it.
  const swapped = readScript(
    writeScript(dir, 'swapped.yaml', rootScript({ label: token.label, serial: 'ffffffffffffffff' }).replace('offline-ca', 'other-ca')),
  );
  const refused = await t.throwsAsync(
    runCeremony(swapped, { out: join(dir, 'swapped-out'), keystore: keystoreFactory(token.userPin), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(refused), 'CEREMONY_DEVICE_MISMATCH');
  t.regex(refused!.message, /not the one with serial ffffffffffffffff/);
  const transcript = verifyTranscript(join(dir, 'swapped-out', 'transcript.jsonl'));
  t.like(transcript.entries.find((e) => e.type === 'ceremony.failed')?.data, { stage: 'devices', code: 'CEREMONY_DEVICE_MISMATCH' });
  t.false(existsSync(join(dir, 'other-ca')), 'no CA directory made');
  t.deepEqual(
    (await token.keystore.list(token.uri)).map((k) => k.label),
    ['root-2026'],
    'no key made on the token in its place',
  );

  // The right token, but its label is taken: the key there is neither reused nor replaced.
  const before = await (await token.keystore.open(token.keyUri('root-2026'))).publicKey();
  const again = readScript(writeScript(dir, 'again.yaml', rootScript({ label: token.label, serial }).replace('offline-ca', 'second-ca')));
  const taken = await t.throwsAsync(
    runCeremony(again, { out: join(dir, 'again-out'), keystore: keystoreFactory(token.userPin), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(taken), 'LABEL_IN_USE');
  t.like(verifyTranscript(join(dir, 'again-out', 'transcript.jsonl')).entries.find((e) => e.type === 'ceremony.failed')?.data, { code: 'LABEL_IN_USE' });
  t.deepEqual(await (await token.keystore.open(token.keyUri('root-2026'))).publicKey(), before);
  t.false(existsSync(join(dir, 'second-ca', 'root.pem')));
});

test('an output that exists is refused and left as it was; a wrong PIN stops the ceremony and is on the record, the PIN is not', async (t) => {
  const token = await createTestToken();
  t.teardown(() => token.close());
  const dir = tempDir(t, 'keyward-ceremony-');
  const script = readScript(writeScript(dir, 'root.yaml', rootScript({ label: token.label, serial: tokenSerial(token) })));
  const out = join(dir, 'out');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out);
  writeFileSync(join(out, 'root.pem'), 'the root of last year: keep');
  const opened: string[] = [];
  const exists = await t.throwsAsync(
    runCeremony(script, { out, keystore: keystoreFactory(token.userPin, [], opened), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(exists), 'OUTPUT_EXISTS');
  t.regex(exists!.message, /root\.yaml:18:3: .*root\.pem already exists/);
  t.is(readFileSync(join(out, 'root.pem'), 'utf8'), 'the root of last year: keep');
  t.deepEqual(readdirSync(out), ['root.pem'], 'no transcript begun');
  t.deepEqual(opened, []);

  const wrongPin = 'not-the-pin';
  const failed = await t.throwsAsync(
    runCeremony(script, { out: join(dir, 'pin-out'), keystore: keystoreFactory(wrongPin), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(failed), 'PIN_INCORRECT');
  const file = join(dir, 'pin-out', 'transcript.jsonl');
  const transcript = verifyTranscript(file);
  t.like(transcript.entries.find((e) => e.type === 'ceremony.failed')?.data, { code: 'PIN_INCORRECT' });
  t.like(transcript.entries.find((e) => e.type === 'ceremony.end')?.data, { outcome: 'stopped' });
  t.false(readFileSync(file, 'utf8').includes(wrongPin), 'the PIN typed is not recorded');
  t.false(existsSync(join(dir, 'pin-out', 'root.pem')));
  const report = await keyward(['ceremony', 'report', file, '--format', 'text']);
  t.regex(report.stdout, /Outcome: stopped: stopped at root, PIN_INCORRECT/, report.stderr);
});

test('a split ceremony: the intermediate key made on a YubiKey online, its CSR signed by the offline root, installed; the offline ca status lists it', async (t) => {
  const token = await createTestToken();
  const yubikey = await createTestYubiKey();
  t.teardown(() => Promise.all([token.close(), yubikey.close()]));
  const dir = tempDir(t, 'keyward-ceremony-');
  const serial = tokenSerial(token);
  const common = (kind: string) => `keyward-ceremony: 1\nkind: ${kind}\nwitnesses: [Alice Auditor, Bob Security]\n`;
  const online = `devices:\n  online-yubikey: { uri: "yubikey:", serial: ${yubikey.serial} }\nkeys:\n  intermediate: { device: online-yubikey, slot: 9d, algorithm: p256 }\n`;
  const offline = `devices:\n  root-hsm: { uri: "pkcs11:token=${token.label}", serial: "${serial}" }\n`;
  const runScript = (name: string, text: string, keystore: ReturnType<typeof keystoreFactory>) =>
    runCeremony(readScript(writeScript(dir, name, text)), { out: join(dir, `${name}-out`), keystore, interaction: quiet, witnessing: room() });

  await runScript('root.yaml', rootScript({ label: token.label, serial }), keystoreFactory(token.userPin));
  const request = await runScript(
    'request.yaml',
    `${common('intermediate-request')}ca-directory: online-ca\n${online}cluster: { id: cluster-a }\noutputs: { csr: cluster-a.csr }\n`,
    keystoreFactory(FACTORY_PIN, [yubikey]),
  );
  const attested = verifyTranscript(request.transcript).entries.find((e) => e.type === 'key.attestation');
  t.like(attested?.data, { role: 'intermediate' }, 'the YubiKey-made key is attested in the transcript');
  // The offline side refuses a CSR made for another cluster than the script says, before any device, on record.
  const otherCluster = await t.throwsAsync(
    runScript(
      'sign-b.yaml',
      `${common('intermediate-sign')}ca-directory: offline-ca\n${offline}keys:\n  root: { device: root-hsm, label: root-2026 }\ncluster: { id: cluster-b }\ninputs: { csr: request.yaml-out/cluster-a.csr }\noutputs: { certificate: cluster-b.pem }\n`,
      keystoreFactory(token.userPin),
    ),
  );
  t.is(codeOf(otherCluster), 'CSR_CLUSTER_MISMATCH');
  t.regex(otherCluster!.message, /sign-b\.yaml:\d+:1: cluster: the intermediate's CSR was made for cluster "cluster-a", not "cluster-b"/);
  t.like(verifyTranscript(join(dir, 'sign-b.yaml-out', 'transcript.jsonl')).entries.find((e) => e.type === 'ceremony.failed')?.data, {
    stage: 'check',
    code: 'CSR_CLUSTER_MISMATCH',
  });
  await runScript(
    'sign.yaml',
    `${common('intermediate-sign')}ca-directory: offline-ca\n${offline}keys:\n  root: { device: root-hsm, label: root-2026 }\ncluster: { id: cluster-a }\ncertificate: { days: 365 }\ninputs: { csr: request.yaml-out/cluster-a.csr }\noutputs: { certificate: cluster-a.pem }\n`,
    keystoreFactory(token.userPin),
  );
  await runScript(
    'install.yaml',
    `${common('intermediate-install')}ca-directory: online-ca\n${online.replace(', algorithm: p256', '')}inputs: { certificate: sign.yaml-out/cluster-a.pem, root-directory: offline-ca }\n`,
    keystoreFactory(FACTORY_PIN, [yubikey]),
  );
  const chain = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'offline-ca', 'root.pem'), join(dir, 'sign.yaml-out', 'cluster-a.pem')]);
  t.is(chain.code, 0, chain.stdout + chain.stderr);
  const status = await keyward(['ca', 'status', '--dir', join(dir, 'offline-ca')]);
  t.is(status.code, 0, status.stderr);
  t.regex(
    status.stdout,
    /no intermediate works from this directory; its root signed:\n {4}O=cluster-a, CN=swarm-ca intermediate {2}serial [0-9a-f]+ {2}until \S+ {2}issued/,
  );
  const online2 = await keyward(['ca', 'status', '--dir', join(dir, 'online-ca'), '--json']);
  t.like(JSON.parse(online2.stdout), { clusterId: 'cluster-a', intermediate: { subject: 'O=cluster-a, CN=swarm-ca intermediate' } });
});

test('--dry-run rehearses the script on stand-ins and leaves nothing behind', async (t) => {
  const dir = tempDir(t, 'keyward-ceremony-');
  const file = writeScript(dir, 'root.yaml', rootScript({ label: 'offline-root-nowhere', serial: '1a2b3c4d5e6f7a8b' }));
  const before = readdirSync(dir);
  const scratch = tempDir(t, 'keyward-ceremony-tmp-'); // the command's temporary directory: the stand-ins' store, the scratch CA
  const result = await keyward(['ceremony', 'run', file, '--out', join(dir, 'out'), '--dry-run', '--json'], {
    input: 'yes\n'.repeat(8),
    env: { ...process.env, TMPDIR: scratch },
  });
  t.is(result.code, 0, result.stderr);
  const output = JSON.parse(result.stdout);
  t.like(output, { dryRun: true, outcome: 'done' });
  t.regex(output.report, /REHEARSAL on stand-in devices/);
  t.deepEqual(readdirSync(dir), before, 'no out directory, no CA directory');
  t.deepEqual(readdirSync(scratch), [], 'the stand-ins and the scratch directory are gone');
});

test('a script cannot choose a PKCS#11 module the operator has not allowed, nor where a PIN comes from', async (t) => {
  const dir = tempDir(t, 'keyward-ceremony-');
  const evil = markerModule(t);
  const script = readScript(
    writeScript(
      dir,
      'module.yaml',
      rootScript({ label: 'offline-root', serial: '1a2b3c4d5e6f7a8b' }).replace(
        'pkcs11:token=offline-root',
        `pkcs11:token=offline-root?module-path=${evil.path}`,
      ),
    ),
  );
  const refused = await t.throwsAsync(
    runCeremony(script, { out: join(dir, 'out'), keystore: keystoreFactory('123456'), interaction: quiet, witnessing: room() }),
  );
  t.is(codeOf(refused), 'MODULE_NOT_ALLOWED');
  t.false(evil.loaded(), "the module's code never ran");
  t.like(verifyTranscript(join(dir, 'out', 'transcript.jsonl')).entries.find((e) => e.type === 'ceremony.failed')?.data, {
    stage: 'devices',
    code: 'MODULE_NOT_ALLOWED',
  });

  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, '000000');
  const secret = t.throws(() =>
    parseScript(
      rootScript({ label: 'offline-root', serial: '1' }).replace('pkcs11:token=offline-root', `pkcs11:token=offline-root?pin-source=file:${pinFile}`),
      join(dir, 'pin.yaml'),
    ),
  );
  t.is(codeOf(secret), 'CEREMONY_SCRIPT_INVALID');
  t.regex((secret as Error).message, /pin\.yaml:7:10: devices\.root-hsm\.uri: a key URI read from a file may not say where a PIN or key comes from/);
});

test('a TUF root signing ceremony: the staged root change is shown and approved, then signed by the root key in its token, not published', async (t) => {
  const token = await createTestToken();
  t.teardown(() => token.close());
  const dir = tempDir(t, 'keyward-ceremony-');
  const key = async (object: string) => signerOf(await token.keystore.generate(token.keyUri(object), { algorithm: 'p256' }));
  const [root, targets, snapshot, timestamp, next] = [
    await key('tuf-root'),
    await key('targets'),
    await key('snapshot'),
    await key('timestamp'),
    await key('timestamp-2'),
  ];
  const role = (signer: typeof root) => ({ keys: [{ key: signer.key, signer }], threshold: 1 });
  const repoDir = join(dir, 'trust-repo');
  await Repository.init(
    repoDir,
    { root: role(root), targets: role(targets), snapshot: role(snapshot), timestamp: role(timestamp) },
    { keystore: token.keystore },
  );
  // Staged by an operator online: a second timestamp key. Root must sign it, offline.
  await Repository.open(repoDir).change({ edit: (edits) => edits.rotate('timestamp', { add: [next.key] }), publish: false });
  t.false(
    Repository.open(repoDir)
      .status()
      .find((s) => s.role === 'root')!.met,
  );

  const script = readScript(
    writeScript(
      dir,
      'tuf.yaml',
      `keyward-ceremony: 1
kind: tuf-root-sign
repository: trust-repo
devices:
  tuf-hsm: { uri: "pkcs11:token=${token.label}", serial: "${tokenSerial(token)}" }
keys:
  root: { device: tuf-hsm, label: tuf-root }
outputs: { root: root.json }
witnesses: [Alice Auditor]
`,
    ),
  );
  const witnesses = room();
  const result = await runCeremony(script, { out: join(dir, 'out'), keystore: keystoreFactory(token.userPin), interaction: quiet, witnessing: witnesses });
  t.true(
    witnesses.shown.some((s) => /About to be signed: the staged TUF metadata \(sha256:[0-9a-f]{64}\)\n {2}root v2:\n[\s\S]*roles\.timestamp\.keyids/.test(s)),
  );
  t.true(witnesses.asked.some((q) => /^Sign the staged TUF metadata/.test(q)));
  const signed = JSON.parse(readFileSync(join(dir, 'out', 'root.json'), 'utf8')) as { signatures: Array<{ keyid: string }> };
  t.true(
    signed.signatures.some((s) => s.keyid === root.keyid),
    'the root key signed the staged root',
  );
  t.true(
    Repository.open(repoDir)
      .status()
      .find((s) => s.role === 'root')!.met,
  );
  t.true(Repository.open(repoDir).stagedRoles().includes('root'), 'staged, not published: publication is online');
  const transcript = verifyTranscript(result.transcript);
  t.like(transcript.entries.find((e) => e.type === 'changes.review')?.data, { roles: [{ role: 'root', version: 2 }] });
});

test("the wizard's answers make scripts the runner accepts, for a root on a token and an intermediate on a YubiKey", (t) => {
  const dir = tempDir(t, 'keyward-ceremony-');
  const root = parseScript(
    scriptText({
      kind: 'root',
      deviceKind: 'pkcs11',
      token: 'offline-root',
      serial: '4b3f9a0c2d1e8f70',
      algorithm: 'p384',
      rootLabel: 'root',
      subject: 'CN=Wizard Root',
      years: 20,
      witnesses: ['Alice', 'Bob'],
    }),
    join(dir, 'root.yaml'),
  );
  t.like(root, {
    kind: 'root',
    certificate: { subject: 'CN=Wizard Root', years: 20 },
    keys: { root: { label: 'root', algorithm: 'p384' } },
    witnesses: ['Alice', 'Bob'],
  });
  const intermediate = parseScript(
    scriptText({
      kind: 'intermediate',
      deviceKind: 'yubikey',
      serial: '23456789',
      algorithm: 'p256',
      rootLabel: '9c',
      clusterId: 'cluster-a',
      intermediateLabel: '9d',
      days: 730,
      witnesses: ['Carol'],
    }),
    join(dir, 'intermediate.yaml'),
  );
  t.like(intermediate, { kind: 'intermediate', cluster: { id: 'cluster-a' }, keys: { root: { slot: '9c' }, intermediate: { slot: '9d', algorithm: 'p256' } } });
  t.throws(() => scriptText({ kind: 'root', deviceKind: 'pkcs11', algorithm: 'p384', rootLabel: 'a;b', witnesses: ['A'] }), {
    code: 'CEREMONY_SCRIPT_INVALID',
  });
});

test('a serial written as digits keeps every digit (YAML would read it as a number)', (t) => {
  const script = parseScript(rootScript({ label: 'offline-root', serial: 'x' }).replace('serial: "x"', 'serial: 1234567890123456789'), '/tmp/digits.yaml');
  t.is(script.devices['root-hsm']!.serial, '1234567890123456789');
});
