/** The `keyward` binary end to end: token and key commands on a throw-away SoftHSM store each. */
import test from 'ava';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_ALGORITHMS } from '../../src/crypto/algorithms.js';
import { CLI_PIN, cliToken } from '../harness/cli-token.js';
import { keyward, run } from '../harness/run.js';

test('token list shows the token with a URI p11tool-style tools accept; --json for scripts', async (t) => {
  const token = await cliToken(t);
  const json = JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout);
  t.is(json.length, 1);
  t.like(json[0], { label: token.label, model: 'SoftHSM v2', initialized: true, userPin: 'ok' });
  t.regex(json[0].uri, new RegExp(`^pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=[0-9a-f]+;token=${token.label}$`));
  const human = await token.keyward(['token', 'list', '--mechanisms']);
  t.regex(human.stdout, /CKM_ECDSA /);
  // The printed URI is accepted by GnuTLS's p11tool.
  const info = await run('p11tool', ['--provider', token.module, '--list-tokens', json[0].uri], { env: token.env });
  t.regex(info.stdout, new RegExp(`Label: ${token.label}`));
});

test('key generate → sign → openssl dgst -verify, for every algorithm', async (t) => {
  const token = await cliToken(t);
  const data = join(token.store.dir, 'release.tar.gz');
  writeFileSync(data, 'pretend this is a release\n');
  for (const algorithm of KEY_ALGORITHMS) {
    const generated = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=${algorithm}-signer`, '--algorithm', algorithm]);
    t.is(generated.code, 0, generated.stderr);
    const uri = generated.stdout.trim();
    t.regex(uri, new RegExp(`^pkcs11:.*;token=${token.label};id=(%[0-9A-F]{2}){16};object=${algorithm}-signer;type=private$`));
    const pub = join(token.store.dir, `${algorithm}.pub.pem`);
    t.is((await token.keyward(['key', 'public', uri, '--out', pub])).code, 0);
    const sig = join(token.store.dir, `${algorithm}.sig`);
    const signed = await token.keyward(['key', 'sign', uri, '--in', data, '--out', sig]);
    t.is(signed.code, 0, signed.stderr);
    const verify =
      algorithm === 'ed25519'
        ? await run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', data, '-sigfile', sig])
        : await run('openssl', ['dgst', algorithm === 'p384' ? '-sha384' : '-sha256', '-verify', pub, '-signature', sig, data]);
    t.regex(verify.stdout, /Verified OK|Signature Verified Successfully/, `${algorithm}: ${verify.stdout}${verify.stderr}`);
  }
  const listed = JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout);
  t.deepEqual(listed.map((k: { algorithm: string }) => k.algorithm).sort(), [...KEY_ALGORITHMS].sort());
  t.true(listed.every((k: { nonExtractable: boolean }) => k.nonExtractable));
});

test('key sign: PSS with openssl -sigopt, signature to stdout when piped, --base64, stdin input', async (t) => {
  const token = await cliToken(t);
  const uri = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=rsa`, '-a', 'rsa2048'])).stdout.trim();
  const data = join(token.store.dir, 'f');
  writeFileSync(data, 'pss me\n');
  const pub = join(token.store.dir, 'rsa.pub.pem');
  writeFileSync(pub, (await token.keyward(['key', 'public', uri])).stdout);
  const piped = await token.keyward(['key', 'sign', uri, '--in', '-', '--padding', 'pss'], { input: readFileSync(data) });
  t.is(piped.stdoutBytes.length, 256);
  const sig = join(token.store.dir, 'f.sig');
  writeFileSync(sig, piped.stdoutBytes);
  const verified = await run('openssl', [
    'dgst',
    '-sha256',
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:-1',
    '-verify',
    pub,
    '-signature',
    sig,
    data,
  ]);
  t.is(verified.stdout.trim(), 'Verified OK');
  const b64 = await token.keyward(['key', 'sign', uri, '--in', data, '--base64']);
  t.is(Buffer.from(b64.stdout.trim(), 'base64').length, 256);
  const json = JSON.parse((await token.keyward(['key', 'sign', uri, '--in', data, '--json'])).stdout);
  t.is(Buffer.from(json.signature, 'base64').length, 256);
});

test('--out replaces only regular files: a FIFO, a device or a directory is refused; mode, owner and symlinks are kept', async (t) => {
  const token = await cliToken(t);
  const uri = `pkcs11:token=${token.label};object=out`;
  t.is((await token.keyward(['key', 'generate', uri, '-a', 'p256'])).code, 0);
  const dir = join(token.store.dir, 'out');
  mkdirSync(dir);
  const publicTo = (path: string) => token.keyward(['key', 'public', uri, '--out', path]);

  const fifo = join(dir, 'fifo');
  t.is((await run('mkfifo', [fifo])).code, 0);
  const nullDevice = join(dir, 'null');
  t.is((await run('mknod', [nullDevice, 'c', '1', '3'])).code, 0);
  for (const [path, kind] of [
    [fifo, 'a FIFO'],
    [nullDevice, 'a character device'],
    [dir, 'a directory'],
  ] as const) {
    const refused = await publicTo(path);
    t.is(refused.code, 2, `${path}: ${refused.stderr}`);
    t.regex(refused.stderr, new RegExp(`${path} is ${kind}; Keyward writes only regular files`));
    t.regex(refused.stderr, /hint: .*write to standard output and redirect it/);
  }
  t.true(statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  t.true(statSync(nullDevice).isCharacterDevice(), 'the device node is still a device node');

  const privateFile = join(dir, 'private.pem');
  writeFileSync(privateFile, 'old', { mode: 0o600 });
  chmodSync(privateFile, 0o600);
  chownSync(privateFile, 4321, 4322);
  t.is((await publicTo(privateFile)).code, 0);
  t.regex(readFileSync(privateFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
  t.like(statSync(privateFile), { mode: 0o100600, uid: 4321, gid: 4322 });

  const link = join(dir, 'link.pem');
  symlinkSync('private.pem', link);
  t.is((await publicTo(link)).code, 0);
  t.true(lstatSync(link).isSymbolicLink(), 'the link is kept');
  t.is(readlinkSync(link), 'private.pem');
  t.is(readFileSync(privateFile, 'utf8'), readFileSync(link, 'utf8'));
  t.like(statSync(privateFile), { mode: 0o100600, uid: 4321 });

  const dangling = join(dir, 'dangling.pem');
  symlinkSync('nowhere.pem', dangling);
  const refused = await publicTo(dangling);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /is a symbolic link to nothing/);

  const fresh = join(dir, 'fresh.pem');
  t.is((await publicTo(fresh)).code, 0);
  t.is(statSync(fresh).mode & 0o777, 0o644 & ~process.umask(), 'a new file gets the usual mode');

  // Sensitive content never inherits a readable mode: a virtual card's state holds its keys.
  const state = join(dir, 'card.json');
  writeFileSync(state, '{}', { mode: 0o644 });
  chmodSync(state, 0o644);
  t.is((await keyward(['yubikey', 'virtual', 'create', '--state', state, '--force', '--yes'])).code, 0);
  t.is(statSync(state).mode & 0o777, 0o600);
});

test('key delete asks first, refuses without a terminal unless --yes, then the key is gone', async (t) => {
  const token = await cliToken(t);
  const uri = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=doomed`, '-a', 'p256'])).stdout.trim();
  const refused = await token.keyward(['key', 'delete', uri]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /refusing to delete a key without confirmation/);
  t.regex(refused.stderr, /--yes/);
  // A URI a listing finds nothing for (type=cert: the key has no certificate) is no way around the question.
  for (const narrowed of [`pkcs11:token=${token.label};object=doomed;type=cert`, `pkcs11:token=${token.label};object=doom`]) {
    const sidestep = await token.keyward(['key', 'delete', narrowed]);
    t.is(sidestep.code, 2, sidestep.stderr);
    t.regex(sidestep.stderr, /refusing to delete a key without confirmation/);
  }
  t.is(JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout).length, 1);
  t.is(
    (await token.keyward(['key', 'delete', `pkcs11:token=${token.label};object=doomed;type=cert`, '--yes'])).code,
    3,
    'what a listing does not select, delete does not destroy',
  );
  t.is(JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout).length, 1);
  const deleted = await token.keyward(['key', 'delete', uri, '--yes', '--json']);
  t.is(deleted.code, 0);
  t.is(JSON.parse(deleted.stdout).label, 'doomed');
  t.deepEqual(JSON.parse((await token.keyward(['key', 'list', '--json'])).stdout), []);
});

test('token change-pin and unblock, PINs from files and the environment', async (t) => {
  const token = await cliToken(t);
  const newPinFile = join(token.store.dir, 'new.pin');
  writeFileSync(newPinFile, 'changed-1\n', { mode: 0o600 });
  const changed = await token.keyward(['token', 'change-pin', `pkcs11:token=${token.label}`, '--new-pin-source', `file:${newPinFile}`]);
  t.is(changed.code, 0, changed.stderr);
  const old = await token.keyward(['key', 'list', `pkcs11:token=${token.label}`]);
  t.is(old.code, 4, 'the old PIN no longer works');
  t.is((await token.keyward(['key', 'list'], { env: { ...token.env, KEYWARD_PIN: 'changed-1' } })).code, 0);
  const unblocked = await token.keyward(['token', 'unblock', `pkcs11:token=${token.label}`], {
    env: { ...token.env, KEYWARD_SO_PIN: 'so-975310', KEYWARD_NEW_PIN: 'after-unblock' },
  });
  t.is(unblocked.code, 0, unblocked.stderr);
  t.is((await token.keyward(['key', 'list'], { env: { ...token.env, KEYWARD_PIN: 'after-unblock' } })).code, 0);
});

test('demo runs end to end and every step checks out', async (t) => {
  const demo = await keyward(['demo', '--json']);
  t.is(demo.code, 0, demo.stderr);
  const report = JSON.parse(demo.stdout);
  t.true(report.ok);
  t.true(report.steps.length >= KEY_ALGORITHMS.length + 2);
  t.true(report.steps.every((s: { ok: boolean }) => s.ok));
  t.true(report.steps.filter((s: { chapter: string }) => s.chapter.startsWith('Shipping with TUF')).length >= 5, 'the TUF chapter ran');
  // The test suite runs as root with docker.io installed: the CA chapter moves a real swarm to Keyward.
  t.true(
    report.steps.some((s: { step: string }) => s.step.startsWith('docker swarm ca --rotate: the rotation converged')),
    'the Swarm part ran against a real dockerd',
  );
  // And with docker-registry and skopeo installed, the image chapter signs an image in a real registry.
  const images = report.steps.filter((s: { chapter: string }) => s.chapter.startsWith('Signing images and files'));
  t.true(images.length >= 5, 'the image chapter ran against a real registry');
  t.false(demo.stdout.includes(CLI_PIN));
});
