/**
 * `keyward notary …` end to end as processes: a real notary-server (Debian's notary 0.7), keys in a
 * SoftHSM token and on a virtual YubiKey served through a real pcscd (touch), and the real `notary`
 * client reading back what Keyward published.
 */
import test from 'ava';
import { join } from 'node:path';
import { runTouching, serveVirtualCard, startPcscd, pcscdUnavailable, type PcscRig } from '../harness/pcscd.js';
import { tempDir } from '../harness/temp.js';
import { trustCliSetup } from '../harness/tuf.js';
import { uniqueGun } from '../harness/notary.js';
import { notaryServerUnavailable, startNotaryServer, type NotaryServerRig } from '../../src/testing/notary-server.js';
import { pushTestImage } from '../../src/testing/oci-layout.js';
import { registryUnavailable, startRegistry } from '../../src/testing/registry.js';
import { skopeoUnavailable } from '../../src/testing/sigstore-tools.js';

const unavailable = notaryServerUnavailable() || pcscdUnavailable();
let rig: PcscRig;
let notary: NotaryServerRig;
test.before(async () => {
  if (unavailable) return;
  rig = await startPcscd();
  notary = await startNotaryServer();
});
test.after.always(async () => {
  await notary?.stop();
  await rig?.stop();
});

const maybe = unavailable ? test.skip : test.serial;
const DIGEST_1 = `sha256:${'1a'.repeat(32)}`;
const DIGEST_2 = `sha256:${'2b'.repeat(32)}`;

maybe('init and sign with the targets key on a YubiKey (touch) and the root in SoftHSM; a signer added; the notary client reads it all', async (t) => {
  const s = await trustCliSetup(t, rig);
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 6 });
  t.teardown(() => card.stop());
  const gun = uniqueGun();
  const server = ['--server', notary.url, '--tls-ca', notary.caFile, '--trust-dir', tempDir(t, 'keyward-notary-trust-')];
  const root = await s.key('notary-root', 'p256');
  const releaser = await s.key('notary-releaser', 'p256');
  t.is((await s.keyward(['key', 'generate', 'yubikey:slot=9c', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'never'])).code, 0);

  const init = await runTouching(['notary', 'init', gun, '--root-key', root, '--targets-key', 'yubikey:slot=9c', ...server], s.env, card.statePath);
  t.is(init.code, 0, init.stderr);
  t.true(init.touched);
  t.regex(init.stdout, new RegExp(`initialised ${gun} on ${notary.url}`));
  t.regex(init.stdout, /published root v1, targets v1; snapshot signed by the server, timestamp by the server/);

  // No touch: the card gives up after its timeout, a clear error, and nothing published.
  const untouched = await s.keyward(['notary', 'sign', `${gun}:v1`, '--digest', DIGEST_1, '--size', '1462', ...server]);
  t.is(untouched.code, 4, untouched.stderr);
  t.regex(untouched.stderr, /not touched in time/);
  const client = tempDir(t, 'keyward-notary-client-');
  t.regex((await notary.notary(['list', gun], client)).stdout, /No targets present/);

  // The recorded targets key (the YubiKey) signs: one touch.
  const signed = await runTouching(['notary', 'sign', `${gun}:v1`, '--digest', DIGEST_1, '--size', '1462', ...server], s.env, card.statePath);
  t.is(signed.code, 0, signed.stderr);
  t.regex(signed.stderr, /Touch your YubiKey \(serial \d+\)…\n…touched\n/);
  t.regex(signed.stdout, new RegExp(`signed ${gun}:v1 into targets: ${DIGEST_1}, 1462 bytes`));
  t.regex(signed.stdout, /signed targets with yubikey:serial=\d+;slot=9c/);
  const list = await notary.notary(['list', gun], client);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`v1\\s+${'1a'.repeat(32)}\\s+1462\\s+targets`));

  // A signer (targets/releases) with a SoftHSM key: added with a touch of the targets key, then signing without one.
  const added = await runTouching(['notary', 'signer', 'add', gun, 'releases', '--key', releaser, ...server], s.env, card.statePath);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /added 1 key to targets\/releases/);
  const delegations = await notary.notary(['delegation', 'list', gun], client);
  t.regex(delegations.stdout, /targets\/releases\s+"" <all paths>\s+[0-9a-f]{64}\s+1/);
  const released = await s.keyward(['notary', 'sign', `${gun}:v2`, '--digest', DIGEST_2, '--size', '7', '--key', releaser, ...server, '--json']);
  t.is(released.code, 0, released.stderr);
  t.like(JSON.parse(released.stdout), { tag: 'v2', digest: DIGEST_2, size: 7, snapshot: 'server', published: [{ role: 'targets/releases', version: 1 }] });
  const both = await notary.notary(['list', gun, '--roles', 'targets/releases'], client);
  t.regex(both.stdout, new RegExp(`v2\\s+${'2b'.repeat(32)}\\s+7\\s+targets/releases`));

  const inspect = JSON.parse((await s.keyward(['notary', 'inspect', gun, ...server, '--json'])).stdout);
  t.deepEqual(
    inspect.tags.map((tag: { tag: string; signers: string[] }) => [tag.tag, tag.signers]),
    [
      ['v1', ['targets']],
      ['v2', ['targets/releases']],
    ],
  );
  t.is(inspect.signers[0].role, 'targets/releases');
  t.regex(inspect.administrativeKeys[0].keys[0].certificate.subject, new RegExp(`CN=${gun}`));

  // Revoked with the signer's key: the notary client no longer finds it.
  const revoked = await s.keyward(['notary', 'revoke', `${gun}:v2`, '--key', releaser, ...server]);
  t.is(revoked.code, 0, revoked.stderr);
  t.regex(revoked.stdout, /revoked .*:v2 \(from targets\/releases\)/);
  t.is((await notary.notary(['lookup', gun, 'v2'], client)).code, 1);
  const gone = await s.keyward(['notary', 'revoke', `${gun}:v2`, '--key', releaser, ...server]);
  t.is(gone.code, 3);
  t.regex(gone.stderr, /has no signed tag "v2"/);
});

maybe(
  'bad input is refused before anything is sent: no server, a digest that is not one, a GUN that is not one, a root key that cannot be a certificate',
  async (t) => {
    const s = await trustCliSetup(t, rig);
    const server = ['--server', notary.url, '--tls-ca', notary.caFile, '--trust-dir', tempDir(t, 'keyward-notary-trust-')];
    const noServer = await s.keyward(['notary', 'inspect', uniqueGun(), '--json']);
    t.is(noServer.code, 2);
    t.is(JSON.parse(noServer.stdout).error.code, 'OPTION_MISSING');
    const digest = await s.keyward(['notary', 'sign', `${uniqueGun()}:v1`, '--digest', 'md5:abc', '--size', '1', ...server]);
    t.is(digest.code, 2);
    t.regex(digest.stderr, /--digest wants sha256:<64 hex digits>/);
    const gun = await s.keyward(['notary', 'inspect', 'Not A Gun', ...server]);
    t.is(gun.code, 2);
    t.regex(gun.stderr, /is not a GUN/);
    const missing = await s.keyward(['notary', 'inspect', uniqueGun(), ...server]);
    t.is(missing.code, 3);
    t.regex(missing.stderr, /has no trust data for/);
    const ed = await s.key('notary-ed', 'ed25519');
    const edRoot = await s.keyward(['notary', 'init', uniqueGun(), '--root-key', ed, '--targets-key', ed, ...server]);
    t.is(edRoot.code, 2, edRoot.stderr);
    t.regex(edRoot.stderr, /a Notary root key is ECDSA or RSA/);
    const untrusted = await s.keyward([
      'notary',
      'inspect',
      uniqueGun(),
      '--server',
      notary.url,
      '--trust-dir',
      join(tempDir(t, 'keyward-notary-trust-'), 'x'),
    ]);
    t.is(untrusted.code, 5);
    t.regex(untrusted.stderr, /TLS certificate is not trusted/);
    t.regex(untrusted.stderr, /--tls-ca/);
  },
);

maybe('sign without --digest signs what the tag names in the registry the GUN names, read through its API', async (t) => {
  const missing = registryUnavailable() || skopeoUnavailable();
  if (missing) return t.pass(`skipped: ${missing}`);
  const s = await trustCliSetup(t, rig);
  const dir = tempDir(t, 'keyward-notary-registry-');
  const registry = await startRegistry({ dir: join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const gun = `${registry.host}/team/app`;
  const pushed = await pushTestImage(dir, `${gun}:v1`, 'notary image', ['--dest-tls-verify=false']);
  const server = ['--server', notary.url, '--tls-ca', notary.caFile, '--trust-dir', tempDir(t, 'keyward-notary-trust-')];
  const init = await s.keyward([
    'notary',
    'init',
    gun,
    '--root-key',
    await s.key('gun-root', 'p256'),
    '--targets-key',
    await s.key('gun-targets', 'p256'),
    ...server,
  ]);
  t.is(init.code, 0, init.stderr);
  const half = await s.keyward(['notary', 'sign', `${gun}:v1`, '--digest', pushed.digest, ...server]);
  t.is(half.code, 2, half.stderr);
  t.regex(half.stderr, /give --digest and --size together, or neither/);
  const signed = await s.keyward(['notary', 'sign', `${gun}:v1`, '--plain-http', ...server, '--json']);
  t.is(signed.code, 0, signed.stderr);
  t.like(JSON.parse(signed.stdout), { tag: 'v1', digest: pushed.digest, size: pushed.size });
  const list = await notary.notary(['list', gun], tempDir(t, 'keyward-notary-client-'));
  t.regex(list.stdout, new RegExp(`v1\\s+${pushed.digest.slice('sha256:'.length)}\\s+${pushed.size}\\s+targets`));
  const absent = await s.keyward(['notary', 'sign', `${gun}:v9`, '--plain-http', ...server]);
  t.is(absent.code, 3, absent.stderr);
  t.regex(absent.stderr, /has no image/);
});
