/** `keyward yubikey …` and `keyward key …` with yubikey: URIs, end to end through pcscd. */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { YUBIKEY_5_ATR } from '../../src/hsm/piv/spec.js';
import { serveVirtualCard, startPcscd, type PcscRig } from '../harness/pcscd.js';
import { KEYWARD_BIN, keyward, run, type RunResult } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...rig.env, KEYWARD_PIN: '123456', ...extra });

/** A destructive command run with no one to ask (no terminal, --no-input) and without --yes. */
function refusedForConfirmation(t: ExecutionContext, result: RunResult, action: string): void {
  t.is(result.code, 2, result.stderr);
  t.regex(result.stderr, new RegExp(`refusing to ${action} without confirmation`));
  t.regex(result.stderr, /hint: pass --yes when no terminal can ask/);
}

test.serial('list, info (with factory-default warnings), generate with policies, sign, attest', async (t) => {
  const card = await serveVirtualCard(rig, { serial: 44556677 });
  try {
    const list = JSON.parse((await keyward(['yubikey', 'list', '--json'], { env: env() })).stdout);
    t.like(list[0], { uri: 'yubikey:serial=44556677', reader: card.reader, firmware: '5.7.1' });
    const generated = await keyward(
      ['key', 'generate', 'yubikey:serial=44556677;slot=9c', '-a', 'p384', '--pin-policy', 'always', '--touch-policy', 'cached'],
      { env: env() },
    );
    t.is(generated.code, 0, generated.stderr);
    t.is(generated.stdout.trim(), 'yubikey:serial=44556677;slot=9c');
    t.regex(generated.stderr, /still uses the factory PIN, PUK, management key/);
    const info = JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout);
    t.like(info, { serial: 44556677, firmware: '5.7.1', pin: { retriesLeft: 3, isDefault: true }, managementKey: { algorithm: 'aes192', isDefault: true } });
    t.like(info.keys[0], {
      uri: 'yubikey:serial=44556677;slot=9c',
      algorithm: 'p384',
      details: { pinPolicy: 'always', touchPolicy: 'cached', origin: 'generated' },
    });

    const data = join(rig.dir, 'cli-data');
    writeFileSync(data, 'yubikey cli\n');
    t.is((await keyward(['key', 'sign', 'yubikey:slot=9c', '--in', data, '--out', `${data}.sig`], { env: env() })).code, 0);
    writeFileSync(`${data}.pub`, (await keyward(['key', 'public', 'yubikey:slot=9c'], { env: env() })).stdout);
    t.is((await run('openssl', ['dgst', '-sha384', '-verify', `${data}.pub`, '-signature', `${data}.sig`, data])).stdout.trim(), 'Verified OK');

    const root = join(rig.dir, 'root.pem');
    writeFileSync(root, (await keyward(['yubikey', 'virtual', 'root', '--state', card.statePath])).stdout);
    const untrusted = await keyward(['yubikey', 'attest', 'yubikey:slot=9c'], { env: env() });
    t.is(untrusted.code, 6);
    t.regex(
      untrusted.stderr,
      /no certificate in the bundle issued 'CN=Keyward Virtual YubiKey PIV Attestation 44556677'; add the intermediate 'CN=Keyward Virtual YubiKey PIV Root CA/,
    );
    // Firmware 5.7.1 chains F9 straight to the root: no intermediates, and an empty file of them is no error.
    const none = join(rig.dir, 'no-intermediates.pem');
    writeFileSync(none, (await keyward(['yubikey', 'virtual', 'intermediates', '--state', card.statePath])).stdout);
    t.is(readFileSync(none, 'utf8'), '');
    const attested = await keyward(['yubikey', 'attest', 'yubikey:slot=9c', '--trust-root', root, '--intermediates', none, '--json'], { env: env() });
    t.is(attested.code, 0, attested.stderr);
    t.like(JSON.parse(attested.stdout), { verified: true, slot: '9c', serial: 44556677, pinPolicy: 'always', touchPolicy: 'cached' });
    // The PIN crossed pcscd in VERIFY APDUs; the card's log shows none of it.
    t.true(card.log.some((l) => l.startsWith('> 00200080 [8 bytes redacted]')));
    t.false(card.log.join('\n').includes(Buffer.from('123456').toString('hex')));
  } finally {
    await card.stop();
  }
});

test.serial('one key sign sends only what it needs: 8 APDUs, identify the card and read the slot in one hold, then PIN and signature', async (t) => {
  const card = await serveVirtualCard(rig, {});
  try {
    t.is((await keyward(['key', 'generate', 'yubikey:slot=9c', '-a', 'p256'], { env: env() })).code, 0);
    const data = join(rig.dir, 'apdu-data');
    writeFileSync(data, 'counted\n');
    const before = card.log.length;
    const signed = await keyward(['key', 'sign', 'yubikey:slot=9c', '--in', data, '--out', `${data}.sig`], { env: env() });
    t.is(signed.code, 0, signed.stderr);
    t.is(signed.stderr, '', 'the factory-default warning belongs to yubikey info, doctor and key generate, not to every signature');
    // Each APDU as its header, and whether it carried data (the log redacts the PIN).
    const sent = (await card.apdusSince(before)).map((line) => {
      const [, header, next] = line.split(' ');
      return next === '<' ? header : `${header} +data`;
    });
    t.deepEqual(sent, [
      '00a40400 +data', // SELECT PIV                          ┐ one hold of the card:
      '00fd0000', // GET VERSION                               │ which YubiKey, which firmware
      '00f80000', // GET SERIAL                                │
      '00f7009c', // GET METADATA of 9c: algorithm, policies   ┘
      '00a40400 +data', // SELECT PIV                          ┐ one hold of the card:
      '00200080', // VERIFY, empty: tries left, before any PIN is spent
      '00200080 +data', // VERIFY with the PIN (9c: PIN policy always)
      '0087119c +data', // GENERAL AUTHENTICATE: ECDSA P-256 with 9c ┘
    ]);
    writeFileSync(`${data}.pub`, (await keyward(['key', 'public', 'yubikey:slot=9c'], { env: env() })).stdout);
    t.is((await run('openssl', ['dgst', '-sha256', '-verify', `${data}.pub`, '-signature', `${data}.sig`, data])).stdout.trim(), 'Verified OK');
  } finally {
    await card.stop();
  }
});

test.serial("firmware 5.7.4: attest verifies through the card's two intermediates, names the missing or foreign link, and OpenSSL agrees", async (t) => {
  const card = await serveVirtualCard(rig, { firmware: '5.7.4', serial: 66778899 });
  try {
    const root = join(rig.dir, 'root-574.pem');
    const intermediates = join(rig.dir, 'intermediates-574.pem');
    writeFileSync(root, (await keyward(['yubikey', 'virtual', 'root', '--state', card.statePath])).stdout);
    writeFileSync(intermediates, (await keyward(['yubikey', 'virtual', 'intermediates', '--state', card.statePath])).stdout);
    t.is((await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256'], { env: env() })).code, 0);

    const rootOnly = await keyward(['yubikey', 'attest', 'yubikey:slot=9a', '--trust-root', root], { env: env() });
    t.is(rootOnly.code, 6);
    t.regex(
      rootOnly.stderr,
      /no certificate in the bundle issued 'CN=Keyward Virtual YubiKey PIV Attestation 66778899'; add the intermediate 'CN=Keyward Virtual YubiKey PIV Attestation A 1, O=Keyward emulator - not a real YubiKey'/,
    );

    const chain = join(rig.dir, 'chain-574.pem');
    const attested = await keyward(
      ['yubikey', 'attest', 'yubikey:slot=9a', '--trust-root', root, '--intermediates', intermediates, '--chain-out', chain, '--json'],
      { env: env() },
    );
    t.is(attested.code, 0, attested.stderr);
    const claims = JSON.parse(attested.stdout);
    t.like(claims, { verified: true, firmware: '5.7.4', serial: 66778899 });
    t.is(claims.path.length, 5);
    t.is(claims.path[4], 'CN=Keyward Virtual YubiKey Attestation Root 1, O=Keyward emulator - not a real YubiKey');
    // The chain Keyward wrote (slot, F9, two intermediates) verifies under the root alone, in OpenSSL too.
    t.is((await run('openssl', ['verify', '-CAfile', root, '-untrusted', chain, chain])).stdout.trim(), `${chain}: OK`);

    // One bundle file holding root and intermediates serves through KEYWARD_ATTESTATION_ROOTS.
    const bundle = join(rig.dir, 'bundle-574.pem');
    writeFileSync(bundle, readFileSync(root, 'utf8') + readFileSync(intermediates, 'utf8'));
    const fromEnv = await keyward(['yubikey', 'attest', 'yubikey:slot=9a'], { env: env({ KEYWARD_ATTESTATION_ROOTS: bundle }) });
    t.is(fromEnv.code, 0, fromEnv.stderr);
    t.regex(
      fromEnv.stdout,
      /chain: slot 9a → CN=Keyward Virtual YubiKey PIV Attestation 66778899 → CN=Keyward Virtual YubiKey PIV Attestation A 1, .* → CN=Keyward Virtual YubiKey Attestation Intermediate A 1, .* → CN=Keyward Virtual YubiKey Attestation Root 1, /,
    );

    // Another 5.7.4 card's tiers have the same names but other keys: foreign intermediates.
    const otherIntermediates = join(rig.dir, 'other-intermediates-574.pem');
    const other = await keyward([
      'yubikey',
      'virtual',
      'create',
      '--state',
      join(rig.dir, 'other-574.json'),
      '--firmware',
      '5.7.4',
      '--intermediates-out',
      otherIntermediates,
    ]);
    t.is(other.code, 0, other.stderr);
    const foreign = await keyward(['yubikey', 'attest', 'yubikey:slot=9a', '--trust-root', root, '--intermediates', otherIntermediates, '--json'], {
      env: env(),
    });
    t.is(foreign.code, 6);
    const { error } = JSON.parse(foreign.stdout);
    t.like(error, { code: 'ATTESTATION_UNTRUSTED', details: { certificate: 'CN=Keyward Virtual YubiKey PIV Attestation 66778899' } });
    t.regex(error.message, /the 'CN=Keyward Virtual YubiKey PIV Attestation A 1, O=Keyward emulator - not a real YubiKey' there has that name but another key/);
  } finally {
    await card.stop();
  }
});

test('virtual create --intermediates-out is refused for a profile whose attestation has no intermediates, before anything is written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vyk-'));
  try {
    const state = join(dir, 'vyk.json');
    const refused = await keyward(['yubikey', 'virtual', 'create', '--state', state, '--firmware', '5.7.1', '--intermediates-out', join(dir, 'i.pem')]);
    t.is(refused.code, 2);
    t.regex(refused.stderr, /firmware 5\.7\.1 attests straight under its root: there are no intermediates to write/);
    t.false(existsSync(state));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('touch: a manual touch from another process lets the signature through; no touch times out with a clear error', async (t) => {
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 5 });
  try {
    t.is((await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'never'], { env: env() })).code, 0);
    const data = join(rig.dir, 'touch-data');
    writeFileSync(data, 'touched\n');
    const timedOut = await keyward(['key', 'sign', 'yubikey:slot=9a', '--in', data, '--out', `${data}.sig`], { env: env() });
    t.is(timedOut.code, 4);
    t.regex(timedOut.stderr, /Touch your YubiKey \(serial \d+\)…/);
    t.regex(timedOut.stderr, /the YubiKey was not touched in time/);
    t.notRegex(timedOut.stderr, /…touched/, 'no "touched" for a touch that never came');

    const signing = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'key', 'sign', 'yubikey:slot=9a', '--in', data, '--out', `${data}.sig`], {
      env: env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    signing.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const stderrRead = new Promise((resolve) => signing.on('close', resolve));
    let exitCode: number | undefined;
    const exited = new Promise<number>((resolve) => signing.on('exit', (code) => resolve((exitCode = code ?? -1))));
    // Touch once the notice asks for it (the signer's start-up takes longer on a loaded machine).
    while (!/Touch your YubiKey/.test(stderr) && exitCode === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    let touched = false;
    while (!touched && exitCode === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      touched = JSON.parse((await keyward(['yubikey', 'virtual', 'touch', '--state', card.statePath, '--json'])).stdout).touched;
    }
    t.true(touched);
    t.is(await exited, 0);
    await stderrRead;
    t.regex(stderr, /Touch your YubiKey \(serial \d+\)…\n…touched\n/, 'the touch is acknowledged');
    // At a terminal the notice line itself ends in "touched".
    const atTerminal = spawn(
      'script',
      ['-qec', `'${process.execPath}' '${KEYWARD_BIN}' key sign yubikey:slot=9a --in '${data}' --out '${data}.sig'`, '/dev/null'],
      { env: env(), stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let terminal = '';
    atTerminal.stdout.on('data', (chunk: Buffer) => (terminal += chunk));
    const closed = new Promise((resolve) => atTerminal.on('close', resolve));
    while (!/Touch your YubiKey/.test(terminal)) await new Promise((resolve) => setTimeout(resolve, 100));
    t.true(JSON.parse((await keyward(['yubikey', 'virtual', 'touch', '--state', card.statePath, '--json'])).stdout).touched);
    await closed;
    // The notice is rewritten in place (carriage return, erase the line) with what came of it.
    t.true(terminal.includes('…\r\x1b[KTouch your YubiKey'), JSON.stringify(terminal));
    t.regex(terminal, /Touch your YubiKey \(serial \d+\)… touched\r?\n/);
    writeFileSync(`${data}.pub`, (await keyward(['key', 'public', 'yubikey:slot=9a'], { env: env() })).stdout);
    t.is((await run('openssl', ['dgst', '-sha256', '-verify', `${data}.pub`, '-signature', `${data}.sig`, data])).stdout.trim(), 'Verified OK');
  } finally {
    await card.stop();
  }
});

test.serial('key sign to a path it could not write: refused before the card is asked anything (no PIN, no touch)', async (t) => {
  const card = await serveVirtualCard(rig, { touch: 'manual' });
  try {
    t.is((await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'always'], { env: env() })).code, 0);
    const data = join(rig.dir, 'unwritten-data');
    writeFileSync(data, 'x');
    const before = card.log.length;
    const refused = await keyward(['key', 'sign', 'yubikey:slot=9a', '--in', data, '--out', join(rig.dir, 'missing', 'x.sig')], { env: env() });
    t.is(refused.code, 2, refused.stderr);
    t.regex(refused.stderr, /--out .*missing\/x\.sig: the directory .*missing does not exist/);
    t.notRegex(refused.stderr, /Touch/);
    t.deepEqual(await card.apdusSince(before), [], 'not one APDU: no PIN verified, no signature made');
  } finally {
    await card.stop();
  }
});

test.serial('after Ctrl-C during a touch, the next command says the card still waits for that touch (not gpg); touching it frees the card', async (t) => {
  const runtime = tempDir(t, 'keyward-runtime-');
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 14 });
  try {
    const withRuntime = env({ XDG_RUNTIME_DIR: runtime });
    t.is(
      (await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'never'], { env: withRuntime })).code,
      0,
    );
    const data = join(rig.dir, 'interrupted-data');
    writeFileSync(data, 'x');
    const signing = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'key', 'sign', 'yubikey:slot=9a', '--in', data, '--base64'], {
      env: withRuntime,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    signing.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise((resolve) => signing.on('exit', resolve));
    while (!/Touch your YubiKey/.test(stderr) && signing.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    signing.kill('SIGINT'); // Ctrl-C: the card keeps waiting for the touch, and pcscd keeps it held for the dead command
    await exited;

    const next = await keyward(['key', 'public', 'yubikey:slot=9a'], { env: withRuntime });
    t.is(next.code, 7, next.stderr);

    t.regex(next.stderr, /the YubiKey is still waiting for a touch, which a Keyward command asked for \d+ s ago before it was interrupted/);
    t.regex(next.stderr, /hint: touch it to end that wait now .*, or wait up to 1?\d s/);
    t.notRegex(next.stderr, /scdaemon|no YubiKey matches/);
    // With nowhere to keep such records (no runtime directory), the message names both usual causes.
    const unrecorded = await keyward(['key', 'public', 'yubikey:slot=9a'], { env: env({ XDG_RUNTIME_DIR: join(runtime, 'none') }) });
    t.is(unrecorded.code, 7, unrecorded.stderr);
    t.regex(unrecorded.stderr, /another program holds the card exclusively/);
    t.regex(unrecorded.stderr, /scdaemon.*; or a command waiting for a touch/);

    // The advice holds: a touch ends the abandoned operation, and the card is free at once.
    t.true(JSON.parse((await keyward(['yubikey', 'virtual', 'touch', '--state', card.statePath, '--json'])).stdout).touched);
    const freed = await keyward(['key', 'public', 'yubikey:slot=9a'], { env: withRuntime });
    t.is(freed.code, 0, freed.stderr);
  } finally {
    await card.stop();
  }
});

test.serial('a command that changes a factory credential does not warn about that one at its start; it still names the others', async (t) => {
  const card = await serveVirtualCard(rig, { firmware: '5.7.1' });
  try {
    const pin = await keyward(['yubikey', 'pin', 'change'], { env: env({ KEYWARD_NEW_PIN: '654321' }) });
    t.is(pin.code, 0, pin.stderr);
    t.regex(pin.stderr, /still uses the factory PUK, management key:/);
    t.notRegex(pin.stderr, /factory PIN/, 'the PIN is what this command changes');
    const puk = await keyward(['yubikey', 'puk', 'change'], { env: env({ KEYWARD_PIN: '654321', KEYWARD_PUK: '12345678', KEYWARD_NEW_PUK: '87654321' }) });
    t.is(puk.code, 0, puk.stderr);
    t.regex(puk.stderr, /still uses the factory management key:/);
    const keyFile = join(rig.dir, 'factory-warning-mgmt.key');
    writeFileSync(keyFile, `${'cd'.repeat(24)}\n`, { mode: 0o600 });
    const mgmt = await keyward(['yubikey', 'management-key', 'set', '--new-key-source', `file:${keyFile}`], { env: env({ KEYWARD_PIN: '654321' }) });
    t.is(mgmt.code, 0, mgmt.stderr);
    t.notRegex(mgmt.stderr, /factory/, 'the management key was the last factory credential, and this command replaces it');
    const reset = await keyward(['yubikey', 'reset', '--yes'], { env: env() });
    t.is(reset.code, 0, reset.stderr);
    t.notRegex(reset.stderr, /still uses the factory/, 'a reset puts every credential back to factory: no warning before it');
    const info = await keyward(['yubikey', 'info'], { env: env() });
    t.regex(info.stderr, /still uses the factory PIN, PUK, management key/, 'looking at the card still warns');
  } finally {
    await card.stop();
  }
});

test.serial('PIN safety from the command line: tries left, the last try kept without a terminal, spent with --allow-final-try', async (t) => {
  const card = await serveVirtualCard(rig, {});
  try {
    await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256', '--pin-policy', 'always'], { env: env() });
    const data = join(rig.dir, 'pin-data');
    writeFileSync(data, 'x');
    for (const left of ['2 tries left', '1 try left']) {
      const wrong = await keyward(['key', 'sign', 'yubikey:slot=9a', '--in', data, '--base64'], { env: env({ KEYWARD_PIN: '999999' }) });
      t.is(wrong.code, 4);
      t.regex(wrong.stderr, new RegExp(`wrong PIN on YubiKey .*: ${left}`));
      t.false(wrong.stderr.includes('999999'));
    }
    const kept = await keyward(['key', 'sign', 'yubikey:slot=9a', '--in', data, '--base64'], { env: env() });
    t.is(kept.code, 4);
    t.regex(kept.stderr, /has one try left before it blocks/);
    t.regex(kept.stderr, /--allow-final-try/);
    const { KEYWARD_PIN: _pin, ...noPin } = env();
    const asked = await keyward(['--allow-final-try', 'key', 'sign', 'yubikey:slot=9a', '--in', data, '--base64'], { env: noPin });
    t.is(asked.code, 4, asked.stderr);
    t.regex(asked.stderr, /the PIN of YubiKey \d+ .*\(1 try left\) is needed/, 'one try, not "1 tries"');
    const spent = await keyward(['--allow-final-try', 'key', 'sign', 'yubikey:slot=9a', '--in', data, '--base64'], { env: env() });
    t.is(spent.code, 0, spent.stderr);
    t.like(JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout).pin, { retriesLeft: 3 });
  } finally {
    await card.stop();
  }
});

test.serial('management key set from a file; afterwards only the new key manages the card; reset restores the factory', async (t) => {
  const card = await serveVirtualCard(rig, { firmware: '5.4.3' });
  try {
    const keyFile = join(rig.dir, 'mgmt.key');
    writeFileSync(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const set = await keyward(['yubikey', 'management-key', 'set', '--algorithm', 'aes256', '--new-key-source', `file:${keyFile}`], { env: env() });
    t.is(set.code, 0, set.stderr);
    const refused = await keyward(['key', 'generate', 'yubikey:slot=9d', '-a', 'p256'], { env: env() });
    t.is(refused.code, 4);
    t.regex(refused.stderr, /needs its management key and there is no terminal/);
    const withKey = await keyward(['key', 'generate', `yubikey:slot=9d?management-key-source=file:${keyFile}`, '-a', 'p256'], { env: env() });
    t.is(withKey.code, 0, withKey.stderr);
    const noConfirm = await keyward(['yubikey', 'reset'], { env: env() });
    refusedForConfirmation(t, noConfirm, 'reset the PIV application');
    t.is(JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout).keys.length, 1, 'the key in 9d survives the refused reset');
    const reset = await keyward(['yubikey', 'reset', '--yes', '--json'], { env: env() });
    t.is(reset.code, 0, reset.stderr);
    const info = JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout);
    t.like(info, { managementKey: { algorithm: 'tdes', isDefault: true }, pin: { isDefault: true } });
    t.deepEqual(info.keys, []);
    t.truthy(readFileSync(keyFile));
  } finally {
    await card.stop();
  }
});

test.serial('key generate --overwrite and pin retries: refused with no one to ask unless --yes, and the refused command changes nothing', async (t) => {
  const card = await serveVirtualCard(rig, {});
  try {
    t.is((await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p256'], { env: env() })).code, 0);
    const publicKey = async () => (await keyward(['key', 'public', 'yubikey:slot=9a'], { env: env() })).stdout;
    const original = await publicKey();
    const taken = await keyward(['key', 'generate', 'yubikey:slot=9a', '-a', 'p384'], { env: env() });
    t.is(taken.code, 7, taken.stderr);
    t.regex(taken.stderr, /slot 9a \(PIV authentication\) of YubiKey \d+ .*already holds an ECDSA P-256 key\n/);
    const overwrite = ['key', 'generate', 'yubikey:slot=9a', '-a', 'p384', '--overwrite'];
    refusedForConfirmation(t, await keyward(overwrite, { env: env() }), 'replace a key');
    t.is(JSON.parse((await keyward([...overwrite, '--json'], { env: env() })).stdout).error.code, 'CONFIRMATION_REQUIRED');
    t.is(await publicKey(), original, 'the old key survives');
    const replaced = await keyward([...overwrite, '--yes'], { env: env() });
    t.is(replaced.code, 0, replaced.stderr);
    t.not(await publicKey(), original);
    t.like(JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout).keys[0], { algorithm: 'p384' });

    const retries = ['yubikey', 'pin', 'retries', '--pin-tries', '5', '--puk-tries', '4'];
    refusedForConfirmation(t, await keyward(retries, { env: env() }), 'reset the PIN and PUK');
    t.like(JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout), { pin: { totalRetries: 3 }, puk: { totalRetries: 3 } });
    const set = await keyward([...retries, '--yes'], { env: env() });
    t.is(set.code, 0, set.stderr);
    t.like(JSON.parse((await keyward(['yubikey', 'info', '--json'], { env: env() })).stdout), { pin: { totalRetries: 5 }, puk: { totalRetries: 4 } });
  } finally {
    await card.stop();
  }
});

test('virtual create --force replaces a virtual YubiKey only when confirmed: refused with no one to ask unless --yes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vyk-'));
  try {
    const state = join(dir, 'vyk.json');
    t.is((await keyward(['yubikey', 'virtual', 'create', '--state', state, '--serial', '11111111'])).code, 0);
    const before = readFileSync(state);
    const replace = ['yubikey', 'virtual', 'create', '--state', state, '--serial', '22222222', '--force'];
    refusedForConfirmation(t, await keyward(replace), 'replace a virtual YubiKey');
    t.deepEqual(readFileSync(state), before, 'the card and its keys are kept');
    const replaced = await keyward([...replace, '--yes', '--json']);
    t.is(replaced.code, 0, replaced.stderr);
    t.is(JSON.parse(replaced.stdout).serial, 22222222);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('at a terminal, a destructive command asks first: "no" keeps the virtual YubiKey, "yes" replaces it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vyk-'));
  try {
    const state = join(dir, 'vyk.json');
    t.is((await keyward(['yubikey', 'virtual', 'create', '--state', state, '--serial', '11111111'])).code, 0);
    const before = readFileSync(state);
    // util-linux script(1) gives the command a real terminal and types the answer into it.
    const atTerminal = (answer: string) =>
      run('script', ['-qec', `'${process.execPath}' '${KEYWARD_BIN}' yubikey virtual create --state '${state}' --serial 22222222 --force`, '/dev/null'], {
        input: `${answer}\r`,
      });
    const declined = await atTerminal('n');
    // The terminal wraps the question at its width, wherever the temporary directory's path ends it.
    t.regex(declined.stdout.replace(/\r?\n/g, ''), /Replace the virtual YubiKey in .*vyk\.json\? Its\s*keys are/, 'the question, at the terminal');
    t.is(declined.code, 130);
    t.regex(declined.stdout, /nothing was changed/);
    t.deepEqual(readFileSync(state), before);
    const agreed = await atTerminal('y');
    t.is(agreed.code, 0, agreed.stdout);
    t.regex(agreed.stdout, /virtual YubiKey 22222222/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('doctor sees the PC/SC readers and the PIV application behind them', async (t) => {
  const card = await serveVirtualCard(rig, { serial: 55667788 });
  try {
    const report = await keyward(['doctor', '--json'], { env: env() });
    t.is(report.code, 0);
    const parsed = JSON.parse(report.stdout);
    t.true(parsed.pcsc.running);
    t.deepEqual(
      parsed.piv.map((p: { reader: string; serial: number }) => [p.reader, p.serial]),
      [[card.reader, 55667788]],
    );
    t.true(parsed.findings.some((f: { level: string; message: string }) => f.level === 'ok' && /YubiKey 55667788 .* ready/.test(f.message)));
    t.true(
      parsed.findings.some(
        (f: { level: string; message: string }) =>
          f.level === 'warning' && /YubiKey 55667788 .* still uses the factory PIN, PUK, management key/.test(f.message),
      ),
    );
    // Bytes are hex for scripts, as pcsc_scan and ykman print an ATR, not Node's Buffer object.
    const reader = parsed.pcsc.readers.find((r: { name: string }) => r.name === card.reader);
    t.is(reader.atr, Buffer.from(YUBIKEY_5_ATR).toString('hex'));
    t.false(report.stdout.includes('"Buffer"'), report.stdout);
  } finally {
    await card.stop();
  }
});
