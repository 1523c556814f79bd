/**
 * `keyward image …` end to end through the binary, with a key in SoftHSM and a real docker-registry
 * on 127.0.0.1: plain HTTP; then HTTPS with its CA given by --registry-ca and Basic authentication
 * with the password from a file or the environment, never argv. Exit codes mean something: 0
 * verified, 3 unsigned, 6 not by that key, 4 credentials refused, 2 plain HTTP off this machine.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registryUnavailable, startRegistry } from '../../src/testing/registry.js';
import { skopeoUnavailable } from '../../src/testing/sigstore-tools.js';
import { pushTestImage } from '../../src/testing/oci-layout.js';
import { cliToken, type CliToken } from '../harness/cli-token.js';
import { pcscdUnavailable, runTouching, serveVirtualCard, startPcscd } from '../harness/pcscd.js';
import { keyward, run } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

const missing = registryUnavailable() || skopeoUnavailable();

/** Pushes a fresh image with skopeo; returns its digest. */
const push = async (dir: string, destination: string, content: string, flags: string[] = []) => (await pushTestImage(dir, destination, content, flags)).digest;

async function signer(token: CliToken, name: string): Promise<{ uri: string; pub: string }> {
  const uri = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=${name}`, '--algorithm', 'p256'])).stdout.trim();
  const pub = join(token.store.dir, `${name}.pub.pem`);
  await token.keyward(['key', 'public', uri, '--out', pub]);
  return { uri, pub };
}

test('sign, verify and list over plain HTTP on loopback, with exit codes that say what is wrong', async (t) => {
  if (missing) return t.pass(`skipped: ${missing}`);
  const dir = tempDir(t, 'keyward-image-cli-');
  const registry = await startRegistry({ dir: join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const token = await cliToken(t);
  const release = await signer(token, 'release');
  const other = await signer(token, 'other');
  const ref = `${registry.host}/demo/cli:1.0`;
  const digest = await push(dir, ref, 'cli image', ['--dest-tls-verify=false']);

  const unsigned = await token.keyward(['image', 'verify', ref, '--key', release.pub, '--plain-http', '--json']);
  t.is(unsigned.code, 3, unsigned.stderr);
  t.is(JSON.parse(unsigned.stdout).error.code, 'IMAGE_UNSIGNED');

  const signed = await token.keyward(['image', 'sign', ref, '--key', release.uri, '--plain-http']);
  t.is(signed.code, 0, signed.stderr);
  t.is(signed.stderr, `${ref} is ${digest} (an image manifest)\n`);
  t.is(
    signed.stdout,
    `signed ${registry.host}/demo/cli@${digest} with ${release.uri}\nstored in ${registry.host}/demo/cli:${digest.replace(':', '-')}.sig (1 signature)\n`,
  );

  const verified = await token.keyward(['image', 'verify', ref, '--key', release.pub, '--plain-http', '--json']);
  t.is(verified.code, 0, verified.stderr);
  t.like(JSON.parse(verified.stdout), { digest, repository: `${registry.host}/demo/cli`, tag: '1.0' });
  const byOther = await token.keyward(['image', 'verify', ref, '--key', other.pub, '--plain-http']);
  t.is(byOther.code, 6);
  t.regex(byOther.stderr, /no signature of .* verifies: layer 1: its signature does not verify with the key given/);

  const listed = JSON.parse(
    (await token.keyward(['image', 'signatures', `${registry.host}/demo/cli@${digest}`, '--key', release.pub, '--plain-http', '--json'])).stdout,
  );
  t.is(listed.signatures.length, 1);
  t.like(listed.signatures[0], { signedDigest: digest, identity: `${registry.host}/demo/cli`, problem: null });
  t.is(listed.signatures[0].verifiedBy, listed.signatures[0].keyHint);

  const human = await token.keyward(['image', 'signatures', ref, '--plain-http']);
  t.regex(human.stdout, /1 signature in sha256-[0-9a-f]{64}\.sig\n#\s+signs\s+identity/);

  const nowhere = await token.keyward(['image', 'verify', `${registry.host}/demo/nothing:1.0`, '--key', release.pub, '--plain-http', '--json']);
  t.is(nowhere.code, 3);
  t.is(JSON.parse(nowhere.stdout).error.code, 'IMAGE_NOT_FOUND');
  const offLoopback = await token.keyward(['image', 'verify', 'registry.example/demo/cli:1.0', '--key', release.pub, '--plain-http']);
  t.is(offLoopback.code, 2);
  t.regex(offLoopback.stderr, /plain HTTP to registry\.example would send images, signatures and credentials unprotected/);
  const badRef = await token.keyward(['image', 'sign', 'demo/cli:1.0', '--key', release.uri]);
  t.is(badRef.code, 2);
  t.regex(badRef.stderr, /"demo\/cli:1\.0" is not an image reference: "demo" is not a registry host/);
});

test('HTTPS with --registry-ca and Basic credentials from a file or the environment; wrong ones exit 4, an unknown CA 6', async (t) => {
  if (missing) return t.pass(`skipped: ${missing}`);
  const dir = tempDir(t, 'keyward-image-tls-');
  // A CA and a server certificate for 127.0.0.1, by OpenSSL.
  const ssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await ssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=test registry CA',
  ]);
  await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const issued = await ssl([
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tls.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  t.is(issued.code, 0, issued.stderr);
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const password = 'a registry password';
  const registry = await startRegistry({
    dir: join(dir, 'registry'),
    tls: { certificate: readFileSync(join(dir, 'tls.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8'), ca },
    user: { name: 'ci', password },
  });
  t.teardown(() => registry.stop());
  const ref = `${registry.host}/team/app:2.0`;
  const digest = await push(dir, ref, 'tls image', [`--dest-creds=ci:${password}`, '--dest-tls-verify=false']);
  const token = await cliToken(t);
  const release = await signer(token, 'release');
  writeFileSync(join(dir, 'password'), `${password}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'wrong'), 'not it\n', { mode: 0o600 });
  const tls = ['--registry-ca', join(dir, 'ca.pem'), '--username', 'ci'];

  const signed = await token.keyward(['image', 'sign', ref, '--key', release.uri, ...tls, '--password-file', join(dir, 'password'), '--json']);
  t.is(signed.code, 0, signed.stderr);
  t.like(JSON.parse(signed.stdout), { digest, signatures: 1 });
  const verified = await token.keyward(['image', 'verify', ref, '--key', release.pub, ...tls], { env: { ...token.env, KEYWARD_REGISTRY_PASSWORD: password } });
  t.is(verified.code, 0, verified.stderr);

  const wrong = await token.keyward(['image', 'verify', ref, '--key', release.pub, ...tls, '--password-file', join(dir, 'wrong'), '--json']);
  t.is(wrong.code, 4);
  t.is(JSON.parse(wrong.stdout).error.code, 'REGISTRY_AUTH');
  t.false(wrong.stdout.includes('not it'), 'the password is not shown');
  const noCredentials = await token.keyward(['image', 'verify', ref, '--key', release.pub, '--registry-ca', join(dir, 'ca.pem')]);
  t.is(noCredentials.code, 4);
  t.regex(noCredentials.stderr, /hint: give --username and --password-file/);
  const untrusted = await token.keyward(['image', 'verify', ref, '--key', release.pub, '--username', 'ci', '--password-file', join(dir, 'password'), '--json']);
  t.is(untrusted.code, 6);
  t.is(JSON.parse(untrusted.stdout).error.code, 'REGISTRY_TLS_UNTRUSTED');
  const plain = await token.keyward(['image', 'verify', ref, '--key', release.pub, '--plain-http']);
  t.is(plain.code, 5);
});

test("a YubiKey through pcscd: one touch, announced by the keystore's notice; no touch, nothing written", async (t) => {
  const why = missing || pcscdUnavailable();
  if (why) return t.pass(`skipped: ${why}`);
  const dir = tempDir(t, 'keyward-image-yubikey-');
  const registry = await startRegistry({ dir: join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const rig = await startPcscd();
  t.teardown(() => rig.stop());
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 4 });
  t.teardown(() => card.stop());
  const env = { ...rig.env, KEYWARD_PIN: '123456' };
  const generated = await keyward(['key', 'generate', 'yubikey:slot=9c', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'always'], { env });
  t.is(generated.code, 0, generated.stderr);
  writeFileSync(join(dir, 'release.pub.pem'), (await keyward(['key', 'public', 'yubikey:slot=9c'], { env })).stdout);
  const ref = `${registry.host}/demo/touched:1.0`;
  const digest = await push(dir, ref, 'touch-signed', ['--dest-tls-verify=false']);

  const untouched = await keyward(['image', 'sign', ref, '--key', 'yubikey:slot=9c', '--plain-http'], { env });
  t.is(untouched.code, 4, untouched.stderr);
  t.regex(untouched.stderr, /not touched in time/);
  const unsigned = await keyward(['image', 'verify', ref, '--key', join(dir, 'release.pub.pem'), '--plain-http']);
  t.is(unsigned.code, 3, 'nothing was written');

  const signed = await runTouching(['image', 'sign', ref, '--key', 'yubikey:slot=9c', '--plain-http'], env, card.statePath);
  t.is(signed.code, 0, signed.stderr);
  t.true(signed.touched);
  t.is(signed.stderr.match(/Touch your YubiKey/g)?.length, 1, 'one touch');
  t.regex(signed.stderr, new RegExp(`^${ref.replaceAll('.', '\\.')} is ${digest} \\(an image manifest\\)\nTouch your YubiKey \\(serial \\d+\\)…\n…touched\n$`));
  const verified = await keyward(['image', 'verify', ref, '--key', join(dir, 'release.pub.pem'), '--plain-http']);
  t.is(verified.code, 0, verified.stderr);
});
