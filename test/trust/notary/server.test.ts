/**
 * Keyward publishes Notary v1 trust data to a real notary-server (Debian's notary 0.7), every key in
 * a device, and the real `notary` client reads it back; delegations, revocation, key rotation, and
 * refusals of what a broken or hostile server serves.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { notaryServerUnavailable, startNotaryServer, type NotaryServerRig } from '../../../src/testing/notary-server.js';
import { Keystore } from '../../../src/keystore/keystore.js';
import { notaryKeyFromSpki, notaryKeyId } from '../../../src/trust/notary/dialect.js';
import { NotaryRepository } from '../../../src/trust/notary/repository.js';
import { deviceSigner } from '../../../src/trust/signer.js';
import type { KeywardError } from '../../../src/errors.js';
import { recordingInteraction } from '../../harness/keystore.js';
import { tempDir } from '../../harness/temp.js';
import { hostileProxy, notaryContext, notaryDevices, uniqueGun } from '../../harness/notary.js';

const unavailable = notaryServerUnavailable();
let rig: NotaryServerRig;
test.before(async () => {
  if (!unavailable) rig = await startNotaryServer();
});
test.after.always(async () => {
  await rig?.stop();
});

const manifest = (text: string) => {
  const bytes = Buffer.from(text);
  return { digest: createHash('sha256').update(bytes).digest(), length: bytes.length };
};
const targetOf = (m: { digest: Buffer; length: number }) => ({ length: m.length, hashes: { sha256: m.digest.toString('base64') } });

const maybe = unavailable ? test.skip : test.serial;

maybe('init and sign with keys in SoftHSM and a YubiKey; the notary client lists the tag with its digest and size', async (t) => {
  const dev = await notaryDevices(t);
  const gun = uniqueGun();
  const root = await dev.softhsm('p256');
  const targets = await dev.yubikey('9c', 'p256');
  const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
  const init = await NotaryRepository.init(context, { root: root.handle, targets: targets.signer });
  t.deepEqual(
    init.published.map((p) => p.role),
    ['root', 'targets'],
  );
  t.is(init.snapshot, 'server');
  const repo = await NotaryRepository.open(context);
  const v1 = manifest('{"schemaVersion":2}');
  const signed = await repo.sign('v1', targetOf(v1), []);
  t.is(signed.role, 'targets');
  t.deepEqual(repo.lookup('v1'), { role: 'targets', name: 'v1', sha256: v1.digest.toString('hex'), length: v1.length });

  const trustDir = tempDir(t, 'keyward-notary-client-');
  const list = await rig.notary(['list', gun], trustDir);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`v1\\s+${v1.digest.toString('hex')}\\s+${v1.length}\\s+targets`));
  const lookup = await rig.notary(['lookup', gun, 'v1'], trustDir);
  t.is(lookup.code, 0, lookup.stderr);
  t.regex(lookup.stdout, new RegExp(`v1 sha256:${v1.digest.toString('hex')} ${v1.length}`));
});

maybe('a 2-of-3 delegation across YubiKey and SoftHSM keys: one signature is refused, two publish; the notary client sees the role and the tag', async (t) => {
  const dev = await notaryDevices(t);
  const gun = uniqueGun();
  const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
  await NotaryRepository.init(context, { root: (await dev.softhsm('p256')).handle, targets: (await dev.softhsm('p256')).signer });
  const alice = await dev.yubikey('9c', 'p256');
  const bob = await dev.softhsm('p256');
  const carol = await dev.softhsm('ed25519');
  let repo = await NotaryRepository.open(context);
  await repo.addSigner(
    'targets/releases',
    [alice, bob, carol].map((k) => notaryKeyFromSpki(k.signer.publicKey)),
    2,
    [],
  );
  const trustDir = tempDir(t, 'keyward-notary-client-');
  const delegations = await rig.notary(['delegation', 'list', gun], trustDir);
  t.is(delegations.code, 0, delegations.stderr);
  t.regex(delegations.stdout, /targets\/releases\s+"" <all paths>/);
  for (const k of [alice, bob, carol]) t.true(delegations.stdout.includes(notaryKeyId(notaryKeyFromSpki(k.signer.publicKey))));

  const v2 = manifest('{"v":2}');
  const alone = await t.throwsAsync(repo.sign('v2', targetOf(v2), [alice.signer]));
  t.is((alone as KeywardError | undefined)?.code, 'NOTARY_THRESHOLD_UNMET');
  t.regex(alone!.message, /targets\/releases needs 2 signatures and has 1/);
  repo = await NotaryRepository.open(context);
  t.is(repo.lookup('v2'), undefined, 'nothing was published');

  const both = await repo.sign('v2', targetOf(v2), [alice.signer, carol.signer]);
  t.is(both.role, 'targets/releases');
  t.deepEqual(both.signed.map((s) => s.role).sort(), ['targets/releases', 'targets/releases']);
  const list = await rig.notary(['list', gun, '--roles', 'targets/releases'], trustDir);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`v2\\s+${v2.digest.toString('hex')}\\s+${v2.length}\\s+targets/releases`));
  t.is((await NotaryRepository.open(context)).lookup('v2')?.role, 'targets/releases');

  // Revoked: gone from every role, for the notary client too.
  await repo.revoke('v2', [alice.signer, bob.signer]);
  const after = await rig.notary(['list', gun], trustDir);
  t.is(after.code, 0, after.stderr);
  t.notRegex(after.stdout, /\bv2\b/);

  // The signer removed (with the targets key recorded at init): gone for the notary client.
  await repo.removeSigner('targets/releases', []);
  const none = await rig.notary(['delegation', 'list', gun], trustDir);
  t.is(none.code, 0, none.stderr);
  t.notRegex(none.stdout, /targets\/releases/);
  t.deepEqual((await NotaryRepository.open(context)).delegations(), []);
});

maybe('a wrong PIN for the second key of a change publishes nothing', async (t) => {
  const dev = await notaryDevices(t);
  const gun = uniqueGun();
  const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
  await NotaryRepository.init(context, { root: (await dev.softhsm('p256')).handle, targets: (await dev.softhsm('p256')).signer });
  const first = await dev.softhsm('p256');
  const second = await dev.yubikey('9c', 'p256'); // PIN policy always: each signature asks for the PIN
  let repo = await NotaryRepository.open(context);
  await repo.addSigner(
    'targets/releases',
    [first, second].map((k) => notaryKeyFromSpki(k.signer.publicKey)),
    2,
    [],
  );
  const v1 = manifest('{"v":1}');
  await repo.sign('v1', targetOf(v1), [first.signer, second.signer]);

  // The same card through a keystore given a wrong PIN: the second signature fails, mid-change.
  const wrong = new Keystore({ env: { KEYWARD_PIN: '000000' }, interaction: recordingInteraction([]), attachedCards: [{ reader: 'virtual', card: dev.card }] });
  t.teardown(() => wrong.close());
  const failing = await deviceSigner(await wrong.open(second.uri));
  const v2 = manifest('{"v":2}');
  const error = await t.throwsAsync(repo.sign('v1', targetOf(v2), [first.signer, failing]));
  t.is((error as KeywardError | undefined)?.code, 'PIN_INCORRECT', error?.message);
  repo = await NotaryRepository.open(context);
  t.deepEqual(repo.lookup('v1')?.sha256, v1.digest.toString('hex'), 'the tag still names what it named');
  t.is(repo.published('targets/releases')?.signed.version, 1);
});

maybe(
  'the snapshot key kept by the publisher, then handed to the server, then back; root and targets keys rotated; the notary client follows every root',
  async (t) => {
    const dev = await notaryDevices(t);
    const gun = uniqueGun();
    const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
    const root = await dev.softhsm('p256');
    const snapshot = await dev.softhsm('ed25519');
    const init = await NotaryRepository.init(context, { root: root.handle, targets: (await dev.softhsm('p256')).signer, snapshot: snapshot.signer });
    t.is(init.snapshot, 'publisher');
    const rootV1 = context.store.trustedRoot(gun)!;
    t.deepEqual(
      init.published.map((p) => p.role),
      ['root', 'targets', 'snapshot'],
    );
    let repo = await NotaryRepository.open(context);
    const v1 = manifest('{"v":1}');
    // The recorded targets and snapshot keys are found by their URIs.
    t.is((await repo.sign('v1', targetOf(v1), [])).snapshot, 'publisher');
    const trustDir = tempDir(t, 'keyward-notary-client-');
    t.is((await rig.notary(['list', gun], trustDir)).code, 0, 'the notary client trusts root v1');

    const toServer = await repo.rotateKey('snapshot', 'server', []);
    t.is(toServer.snapshot, 'server');
    const v2 = manifest('{"v":2}');
    t.is((await repo.sign('v2', targetOf(v2), [])).snapshot, 'server');

    const newRoot = await dev.yubikey('9a', 'p256');
    const rotated = await repo.rotateKey('root', { handle: newRoot.handle }, []);
    t.deepEqual(rotated.signed.map((s) => s.uri).sort(), [root.uri, newRoot.uri].sort(), 'the new root is signed by the old root key and the new one');
    const newTargets = await dev.softhsm('p256');
    await repo.rotateKey('targets', { handle: newTargets.handle }, []);
    const back = await dev.softhsm('p256');
    await repo.rotateKey('snapshot', { handle: back.handle }, []);
    await repo.rotateKey('timestamp', 'server', []);
    const v3 = manifest('{"v":3}');
    t.is((await repo.sign('v3', targetOf(v3), [])).snapshot, 'publisher');
    repo = await NotaryRepository.open(context);
    t.is(repo.root.signed.version, 6);

    const list = await rig.notary(['list', gun], trustDir);
    t.is(list.code, 0, list.stderr);
    for (const [tag, m] of [
      ['v1', v1],
      ['v2', v2],
      ['v3', v3],
    ] as const)
      t.regex(list.stdout, new RegExp(`${tag}\\s+${m.digest.toString('hex')}\\s+${m.length}`));
    // A signer added and removed while the publisher holds the snapshot: its entry leaves the snapshot.
    await repo.addSigner('targets/ci', [notaryKeyFromSpki((await dev.softhsm('p256')).signer.publicKey)], 1, []);
    await repo.removeSigner('targets/ci', []);
    t.deepEqual((await NotaryRepository.open(context)).delegations(), []);
    // A second machine that trusted root v1 follows the rotations too.
    const elsewhere = notaryContext(t, rig, gun, { trustDir: tempDir(t, 'keyward-notary-trust-') });
    elsewhere.store.trust(gun, rootV1);
    t.is((await NotaryRepository.open(elsewhere)).lookup('v3')?.sha256, v3.digest.toString('hex'));
  },
);

maybe('a GUN the notary client made and signed is read and verified by Keyward', async (t) => {
  const gun = uniqueGun();
  const trustDir = tempDir(t, 'keyward-notary-client-');
  t.is((await rig.notary(['init', gun, '-p'], trustDir)).code, 0);
  const file = join(tempDir(t, 'keyward-notary-file-'), 'manifest.json');
  writeFileSync(file, '{"schemaVersion":2,"by":"notary"}');
  const added = await rig.notary(['add', gun, 'from-notary', file, '-p'], trustDir);
  t.is(added.code, 0, added.stderr);
  const repo = await NotaryRepository.open(notaryContext(t, rig, gun));
  t.true(repo.firstUse);
  t.deepEqual(repo.lookup('from-notary'), {
    role: 'targets',
    name: 'from-notary',
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    length: readFileSync(file).length,
  });
});

maybe(
  'a hostile server: tampered targets, another root, replayed trust data, an endless answer and expired metadata are refused with the role and the reason',
  async (t) => {
    const dev = await notaryDevices(t);
    const gun = uniqueGun();
    const context = notaryContext(t, rig, gun, { keystore: dev.keystore });
    await NotaryRepository.init(context, { root: (await dev.softhsm('p256')).handle, targets: (await dev.softhsm('p256')).signer });
    const oldTimestamp = (await context.server.metadata(gun, 'timestamp', 1 << 20))!;
    const oldSnapshot = (await context.server.metadata(gun, 'snapshot', 1 << 20))!;
    await (await NotaryRepository.open(context)).sign('v1', targetOf(manifest('{"v":1}')), []);
    const other = uniqueGun();
    await NotaryRepository.init(notaryContext(t, rig, other, { keystore: dev.keystore }), {
      root: (await dev.softhsm('p256')).handle,
      targets: (await dev.softhsm('p256')).signer,
    });

    const proxy = await hostileProxy(rig);
    t.teardown(() => proxy.close());
    const through = notaryContext(t, rig, gun, { url: proxy.url, trustDir: context.store.dir });
    const refusal = async (rewrite: (path: string, body: Buffer) => Buffer | undefined, options: { firstUse?: boolean; now?: () => Date } = {}) => {
      proxy.tamper(rewrite);
      const ctx = options.firstUse ? notaryContext(t, rig, gun, { url: proxy.url, now: options.now }) : { ...through, now: options.now };
      const error = await t.throwsAsync(NotaryRepository.open(ctx));
      proxy.tamper(undefined);
      return error as KeywardError;
    };

    const digest = Buffer.from(createHash('sha256').update('{"v":1}').digest()).toString('base64');
    const tampered = await refusal((path, body) =>
      path.endsWith('/targets.json') ? Buffer.from(body.toString().replace(digest, Buffer.alloc(32, 7).toString('base64'))) : undefined,
    );
    t.is(tampered.code, 'TUF_HASH_MISMATCH');
    t.regex(tampered.message, /^targets: targets\.json has sha256 /);

    // Another GUN's root, valid in itself, served for this one.
    const otherRootBytes = (await notaryContext(t, rig, other).server.metadata(other, 'root', 1 << 20))!;
    const replaced = await refusal((path) => (path.endsWith(`/_trust/tuf/root.json`) ? otherRootBytes : undefined));
    t.is(replaced.code, 'NOTARY_ROOT_CHANGED');
    const firstSeen = await refusal((path) => (path.endsWith(`/_trust/tuf/root.json`) ? otherRootBytes : undefined), { firstUse: true });
    t.is(firstSeen.code, 'NOTARY_ROOT_CERTIFICATE');
    t.regex(firstSeen.message, new RegExp(`Common Name is "${other.replace(/[.]/g, '\\.')}", not the GUN`));

    // The trust data as it was before v1 was signed, validly signed and unexpired: a replay.
    const replayed = await refusal((path) => (path.endsWith('/timestamp.json') ? oldTimestamp : path.endsWith('/snapshot.json') ? oldSnapshot : undefined));
    t.is(replayed.code, 'TUF_ROLLBACK');
    t.regex(replayed.message, /^timestamp: the server serves timestamp v1; this machine verified v2 already/);

    const endless = await refusal((path) => (path.endsWith('/timestamp.json') ? Buffer.alloc(20 * 1024 * 1024, 0x20) : undefined));
    t.is(endless.code, 'NOTARY_TOO_LARGE');

    const later = new Date(Date.now() + 20 * 86_400_000);
    const stale = await refusal(() => undefined, { now: () => later });
    t.is(stale.code, 'TUF_EXPIRED');
    t.regex(stale.message, /^timestamp: expired at \d{4}-/);
    t.regex(stale.hint ?? '', /re-signs an expired timestamp/);
  },
);
