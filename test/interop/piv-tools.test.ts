/**
 * Real peers against the virtual YubiKey through a real pcscd: yubico-piv-tool, ykman, OpenSC's
 * PKCS#11 module and Yubico's ykcs11 must not be able to tell it from a YubiKey, and keys made by
 * either side work on the other.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyward, run } from '../harness/run.js';
import { serveVirtualCard, startPcscd, type PcscRig } from '../harness/pcscd.js';

const OPENSC = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const YKCS11 = '/usr/lib/x86_64-linux-gnu/libykcs11.so';

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

const env = () => ({ ...rig.env, KEYWARD_PIN: '123456' });

test.serial('yubico-piv-tool reads status, verifies the PIN (and counts a wrong one), generates a key Keyward then uses', async (t) => {
  const card = await serveVirtualCard(rig, { firmware: '5.4.3', serial: 11223344 });
  try {
    const status = await run('yubico-piv-tool', ['-r', card.reader, '-a', 'status'], { env: env() });
    t.is(status.code, 0, status.stderr);
    t.regex(status.stdout, /Version:\s+5\.4\.3/);
    t.regex(status.stdout, /Serial Number:\s+11223344/);
    t.regex(status.stdout, /PIN tries left:\s+3/);

    const wrong = await run('yubico-piv-tool', ['-r', card.reader, '-a', 'verify-pin', '-P', '000000'], { env: env() });
    t.not(wrong.code, 0);
    t.regex(wrong.stdout + wrong.stderr, /2 tries left/);
    const right = await run('yubico-piv-tool', ['-r', card.reader, '-a', 'verify-pin', '-P', '123456'], { env: env() });
    t.regex(right.stdout + right.stderr, /Successfully verified PIN/);

    const pub = join(rig.dir, 'yubico-9c.pub.pem');
    const generated = await run('yubico-piv-tool', ['-r', card.reader, '-a', 'generate', '-s', '9c', '-A', 'ECCP256', '-o', pub], { env: env() });
    t.is(generated.code, 0, generated.stderr);
    // Keyward sees the key yubico-piv-tool made, and signs with it; OpenSSL checks with yubico-piv-tool's public key.
    const listed = JSON.parse((await keyward(['key', 'list', 'yubikey:serial=11223344', '--json'], { env: env() })).stdout);
    t.like(listed[0], { uri: 'yubikey:serial=11223344;slot=9c', algorithm: 'p256' });
    const data = join(rig.dir, 'data');
    writeFileSync(data, 'signed by Keyward with a key yubico-piv-tool generated\n');
    const signed = await keyward(['key', 'sign', 'yubikey:serial=11223344;slot=9c', '--in', data, '--out', `${data}.sig`], { env: env() });
    t.is(signed.code, 0, signed.stderr);
    t.is((await run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', `${data}.sig`, data])).stdout.trim(), 'Verified OK');
  } finally {
    await card.stop();
  }
});

test.serial('ykman recognises a YubiKey 5 and reads PIV info, warnings included', async (t) => {
  const card = await serveVirtualCard(rig, { serial: 22334455 });
  try {
    const info = await run('ykman', ['--reader', card.reader, 'info'], { env: env() });
    t.is(info.code, 0, info.stderr);
    t.regex(info.stdout, /Device type: YubiKey 5/);
    t.regex(info.stdout, /Serial number: 22334455/);
    t.regex(info.stdout, /Firmware version: 5\.7\.1/);
    t.regex(info.stdout, /PIV\s+Enabled/);
    const piv = await run('ykman', ['--reader', card.reader, 'piv', 'info'], { env: env() });
    t.is(piv.code, 0, piv.stderr);
    t.regex(piv.stdout, /PIV version: 5\.7\.1/);
    t.regex(piv.stdout, /WARNING: Using default PIN!/);
    t.regex(piv.stdout, /Management key algorithm: AES192/);
    // After Keyward changes the PIN, ykman stops warning about it.
    const changed = await keyward(['yubikey', 'pin', 'change', 'yubikey:serial=22334455'], { env: { ...env(), KEYWARD_NEW_PIN: '86420864' } });
    t.is(changed.code, 0, changed.stderr);
    const after = await run('ykman', ['--reader', card.reader, 'piv', 'info'], { env: env() });
    t.notRegex(after.stdout, /default PIN/);
    t.regex(after.stdout, /PIN tries remaining: 3\/3/);
  } finally {
    await card.stop();
  }
});

test.serial(
  "ykman on a 5.7.4-style card: generates and attests a key; OpenSSL verifies the chain through the card's two intermediates, and so does Keyward",
  async (t) => {
    const state = join(rig.dir, 'yk574.json');
    const root = join(rig.dir, 'yk574-root.pem');
    const intermediates = join(rig.dir, 'yk574-intermediates.pem');
    const created = await keyward([
      'yubikey',
      'virtual',
      'create',
      '--state',
      state,
      '--firmware',
      '5.7.4',
      '--serial',
      '44332211',
      '--root-out',
      root,
      '--intermediates-out',
      intermediates,
    ]);
    t.is(created.code, 0, created.stderr);
    const card = await serveVirtualCard(rig, { statePath: state });
    try {
      const info = await run('ykman', ['--reader', card.reader, 'info'], { env: env() });
      t.is(info.code, 0, info.stderr);
      t.regex(info.stdout, /Firmware version: 5\.7\.4/);
      const piv = await run('ykman', ['--reader', card.reader, 'piv', 'info'], { env: env() });
      t.is(piv.code, 0, piv.stderr);
      t.regex(piv.stdout, /PIV version: 5\.7\.4/);

      const pub = join(rig.dir, 'yk574-9a.pub.pem');
      const slot = join(rig.dir, 'yk574-9a.attestation.pem');
      const f9 = join(rig.dir, 'yk574-f9.pem');
      const ykman = (args: string[]) => run('ykman', ['--reader', card.reader, 'piv', ...args], { env: env() });
      const generated = await ykman(['keys', 'generate', '-m', '010203040506070801020304050607080102030405060708', '-a', 'ECCP256', '9a', pub]);
      t.is(generated.code, 0, generated.stderr);
      t.is((await ykman(['keys', 'attest', '9a', slot])).code, 0);
      t.is((await ykman(['certificates', 'export', 'f9', f9])).code, 0);
      t.is(
        (await run('openssl', ['x509', '-in', slot, '-noout', '-pubkey'])).stdout,
        readFileSync(pub, 'utf8'),
        'the attestation is for the key ykman generated',
      );

      const untrusted = join(rig.dir, 'yk574-untrusted.pem');
      writeFileSync(untrusted, readFileSync(intermediates, 'utf8') + readFileSync(f9, 'utf8'));
      const verified = await run('openssl', ['verify', '-CAfile', root, '-untrusted', untrusted, slot]);
      t.is(verified.stdout.trim(), `${slot}: OK`, verified.stderr);
      const withoutIntermediates = await run('openssl', ['verify', '-CAfile', root, '-untrusted', f9, slot]);
      t.not(withoutIntermediates.code, 0);
      t.regex(withoutIntermediates.stdout + withoutIntermediates.stderr, /unable to get local issuer certificate/);

      const attested = await keyward(
        ['yubikey', 'attest', 'yubikey:serial=44332211;slot=9a', '--trust-root', root, '--intermediates', intermediates, '--json'],
        { env: env() },
      );
      t.is(attested.code, 0, attested.stderr);
      t.like(JSON.parse(attested.stdout), { verified: true, firmware: '5.7.4', serial: 44332211, slot: '9a' });
    } finally {
      await card.stop();
    }
  },
);

test.serial('OpenSC lists a Keyward key with its certificate and signs with it; ykcs11 lists its objects', async (t) => {
  const card = await serveVirtualCard(rig, { serial: 33445566 });
  try {
    const uri = 'yubikey:serial=33445566;slot=9a';
    t.is((await keyward(['key', 'generate', uri, '-a', 'p256'], { env: env() })).code, 0);
    const certificate = join(rig.dir, 'piv-auth.crt');
    const selfSigned = await keyward(['cert', 'self-sign', uri, '--subject', 'CN=OpenSC interop', '--store', '--out', certificate], { env: env() });
    t.is(selfSigned.code, 0, selfSigned.stderr);

    const objects = await run('pkcs11-tool', ['--module', OPENSC, '--slot-index', '0', '--list-objects'], { env: env() });
    t.regex(objects.stdout, /Certificate Object; type = X\.509 cert\s+label:\s+Certificate for PIV Authentication/);
    t.regex(objects.stdout, /subject:\s+DN: CN=OpenSC interop/);
    const data = join(rig.dir, 'opensc-data');
    writeFileSync(data, 'signed by OpenSC with a key Keyward generated\n');
    const sig = `${data}.sig`;
    const signed = await run(
      'pkcs11-tool',
      [
        '--module',
        OPENSC,
        '--slot-index',
        '0',
        '--login',
        '--pin',
        'env:KEYWARD_PIN',
        '--sign',
        '--id',
        '01',
        '-m',
        'ECDSA-SHA256',
        '--signature-format',
        'openssl',
        '-i',
        data,
        '-o',
        sig,
      ],
      { env: env() },
    );
    t.is(signed.code, 0, signed.stderr);
    const pub = join(rig.dir, 'piv-auth.pub.pem');
    writeFileSync(pub, (await keyward(['key', 'public', uri], { env: env() })).stdout);
    t.is((await run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, data])).stdout.trim(), 'Verified OK');

    const ykcs11 = await run('pkcs11-tool', ['--module', YKCS11, '--slot-index', '0', '--login', '--pin', 'env:KEYWARD_PIN', '--list-objects'], { env: env() });
    t.is(ykcs11.code, 0, ykcs11.stderr);
    t.regex(ykcs11.stdout, /Private Key Object; EC\s+label:\s+Private key for PIV Authentication/);
    t.regex(ykcs11.stdout, /Access:\s+sensitive, always sensitive, never extractable, local/);
    t.regex(ykcs11.stdout, /subject:\s+DN: CN=OpenSC interop/);
    const tokens = await run('pkcs11-tool', ['--module', YKCS11, '-L'], { env: env() });
    t.regex(tokens.stdout, /token label\s+: YubiKey PIV #33445566/);
    t.truthy(readFileSync(certificate, 'utf8'));
  } finally {
    await card.stop();
  }
});
