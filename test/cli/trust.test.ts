/**
 * `keyward trust repo …`, `keyward trust sign` and `keyward trust client` end to end as processes:
 * keys in a SoftHSM token and on a virtual YubiKey served through a real pcscd, a developer who
 * touch-signs a release, a client that verifies it over HTTP.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runTouching, serveVirtualCard, startPcscd, type PcscRig } from '../harness/pcscd.js';
import { KEYWARD_BIN, keyward as runKeyward } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';
import { staticServer, trustClientArgs, trustCliSetup } from '../harness/tuf.js';

let rig: PcscRig;
test.before(async () => {
  rig = await startPcscd();
});
test.after.always(async () => {
  await rig?.stop();
});

test.serial('a developer touch-signs a release with a YubiKey; a client verifies it; no touch changes nothing', async (t) => {
  const s = await trustCliSetup(t, rig);
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 6 });
  try {
    const keys = {
      root: await s.key('root', 'p384'),
      targets: await s.key('targets', 'ed25519'),
      snapshot: await s.key('snapshot', 'ed25519'),
      timestamp: await s.key('timestamp', 'ed25519'),
    };
    const init = await s.init(keys, '--expiry', 'timestamp=2', '--json');
    t.is(init.code, 0, init.stderr);
    t.true(JSON.parse(init.stdout).published);
    t.is((await s.keyward(['key', 'generate', 'yubikey:slot=9c', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'never'])).code, 0);
    const delegated = await s.keyward([
      'trust',
      'repo',
      'delegate',
      s.dir,
      'releases',
      '--path',
      'releases/*',
      '--terminating',
      '--key',
      'yubikey:slot=9c',
      '--sign-with',
      keys.targets,
    ]);
    t.is(delegated.code, 0, delegated.stderr);
    // The new role is staged too, empty: it is published with its first signature, never without its file.
    t.regex(delegated.stdout, /staged, not published yet: releases v1 needs 1 more signature, of the keys targets names: yubikey:serial=\d+;slot=9c/);
    t.notRegex(delegated.stderr, /Touch/, 'reading the public key needs no touch, and no notice says otherwise');

    const release = join(s.dir, '..', 'app-1.0.tar.gz');
    writeFileSync(release, 'release 1.0\n');
    // No touch comes: a clear error, and the repository is as it was.
    const statusBefore = (await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout;
    const untouched = await s.keyward(['trust', 'sign', s.dir, 'releases/app-1.0.tar.gz', '--file', release]);
    t.is(untouched.code, 4, untouched.stderr);
    t.regex(untouched.stderr, /Touch your YubiKey \(serial \d+\)…/);
    t.regex(untouched.stderr, /not touched in time/);
    t.notRegex(untouched.stderr, /…touched/, 'no "touched" for a touch that never came');
    t.is((await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout, statusBefore);

    // Ctrl-C while the card waits for the touch: nothing staged, no file stored (before, the release
    // stayed staged without its file, and the next release published it: clients got a 404).
    const interrupted = await runTouching(['trust', 'sign', s.dir, 'releases/app-0.9.tar.gz', '--file', release], s.env, card.statePath, true);
    t.is(interrupted.signal, 'SIGINT', interrupted.stderr);
    // The card itself still waits: the developer touches it (or it gives up) before the next command.
    while (!JSON.parse((await s.keyward(['yubikey', 'virtual', 'touch', '--state', card.statePath, '--json'])).stdout).touched)
      await new Promise((r) => setTimeout(r, 100));
    t.is((await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout, statusBefore);
    t.deepEqual(readdirSync(join(s.dir, 'public', 'targets')), [], 'no release file stored');

    // With a touch: one command, the notice while the card waits, then what changed.
    const { code, stdout, stderr, touched } = await runTouching(['trust', 'sign', s.dir, 'releases/app-1.0.tar.gz', '--file', release], s.env, card.statePath);
    t.is(code, 0, stderr);
    t.true(touched, 'the card was waiting for the touch');
    t.regex(stderr, /Touch your YubiKey \(serial \d+\)…\n…touched\n/, 'the touch is acknowledged');
    t.regex(stdout, /added releases\/app-1\.0\.tar\.gz in releases v1: sha256 [0-9a-f]{64}, 12 bytes/);
    t.regex(stdout, /signed releases with yubikey:/);
    t.regex(stdout, /published targets v2, releases v1, snapshot v2, timestamp v2/);

    // A client that trusts root v1 verifies it over HTTP.
    const server = await staticServer(join(s.dir, 'public'));
    try {
      const client = trustClientArgs(tempDir(t, 'keyward-trust-client-'), server.url);
      t.is((await s.keyward(client.init(join(s.dir, 'public', 'metadata', '1.root.json')))).code, 0);
      const download = await s.keyward(client.download('releases/app-1.0.tar.gz', '--json'));
      t.is(download.code, 0, download.stderr);
      const [result] = JSON.parse(download.stdout);
      t.is(result.role, 'releases');
      t.is(readFileSync(result.file, 'utf8'), 'release 1.0\n');
    } finally {
      await server.close();
    }
  } finally {
    await card.stop();
  }
});

test.serial('threshold signing across machines: init with public keys, status shows who is missing, sign publishes', async (t) => {
  const s = await trustCliSetup(t, rig);
  const keys = {
    a: await s.key('root-a', 'p256'),
    b: await s.key('root-b', 'ed25519'),
    targets: await s.key('targets', 'p256'),
    snapshot: await s.key('snapshot', 'ed25519'),
    timestamp: await s.key('timestamp', 'ed25519'),
  };
  const bPub = join(s.dir, '..', 'root-b.pub.pem');
  writeFileSync(bPub, (await s.keyward(['key', 'public', keys.b])).stdout);
  const roles = { ...keys, root: [keys.a, bPub] };
  const zero = await s.init(roles, '--root-threshold', '0');
  t.is(zero.code, 2);
  t.regex(zero.stderr, /root: threshold 0 refused/);
  const init = await s.init(roles, '--root-threshold', '2');
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /repository staged/);
  const status = JSON.parse((await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout);
  const root = status.roles.find((r: { role: string }) => r.role === 'root');
  t.like(root, { version: 1, staged: true, met: false });
  t.is(root.requirements[0].signed.length, 1);
  t.is(root.requirements[0].missing.length, 1);
  const human = await s.keyward(['trust', 'repo', 'status', s.dir]);
  t.regex(human.stdout, /root v1 {2}staged, waiting for signatures/);
  t.regex(human.stdout, /✗ 1 of 2 required from root v1/);
  t.is((await s.keyward(['trust', 'repo', 'publish', s.dir])).code, 7, 'publishing below threshold is refused');
  // The second root key holder, on another machine, signs what the first staged: only once reviewed.
  const unreviewed = await s.keyward(['trust', 'repo', 'sign', s.dir, '--key', keys.b]);
  t.is(unreviewed.code, 7, unreviewed.stderr);
  t.regex(unreviewed.stderr, /Staged by others, not by this command, and signed with it:\nroot v1:\n {2}\+ _type: "root"/);
  t.regex(unreviewed.stderr, /the staged root holds changes made by others \(above\), and no one is here to approve them/);
  t.regex(human.stdout, new RegExp(`staged changes, against what is published \\(digest ${status.staged.digest}, for --expect\\):\nroot v1:\n`));
  const wrong = await s.keyward(['trust', 'repo', 'sign', s.dir, '--key', keys.b, '--expect', `sha256:${'0'.repeat(64)}`]);
  t.is(wrong.code, 7, wrong.stderr);
  t.regex(wrong.stderr, /the staged changes are not the ones you reviewed/);
  const signed = await s.keyward(['trust', 'repo', 'sign', s.dir, '--key', keys.b, '--expect', status.staged.digest]);
  t.is(signed.code, 0, signed.stderr);
  t.regex(signed.stdout, /published root v1, targets v1, snapshot v1, timestamp v1/);
  const after = JSON.parse((await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout);
  t.true(after.roles.every((r: { met: boolean; staged: boolean }) => r.met && !r.staged));
  t.is(after.staged, null);
  t.deepEqual(
    after.roles.map((r: { role: string }) => r.role),
    ['root', 'targets', 'snapshot', 'timestamp'],
  );
  // An image manifest by digest, with custom metadata; a malformed digest is refused.
  const digest = `sha256:${'4f'.repeat(32)}`;
  const bad = await s.keyward(['trust', 'repo', 'add-target', s.dir, 'registry.example/app:1.0', '--digest', 'sha256:xyz', '--length', '1462']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--digest sha256:<64 hex> with --length N/);
  const added = await s.keyward([
    'trust',
    'repo',
    'add-target',
    s.dir,
    'registry.example/app:1.0',
    '--digest',
    digest,
    '--length',
    '1462',
    '--custom',
    '{"tag":"1.0"}',
    '--sign-with',
    keys.targets,
    '--json',
  ]);
  t.is(added.code, 0, added.stderr);
  t.like(JSON.parse(added.stdout), { published: { published: [{ role: 'targets', version: 2 }] } });
  const targets = JSON.parse(readFileSync(join(s.dir, 'public', 'metadata', '2.targets.json'), 'utf8'));
  t.deepEqual(targets.signed.targets['registry.example/app:1.0'], { length: 1462, hashes: { sha256: '4f'.repeat(32) }, custom: { tag: '1.0' } });

  // A change whose signing fails stages nothing: a --sign-with key that is not the role's, a device not there.
  const before = (await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout;
  const notTheRole = await s.keyward(['trust', 'repo', 'add-target', s.dir, 'app:2.0', '--digest', digest, '--length', '1', '--sign-with', keys.a]);
  t.is(notTheRole.code, 3, notTheRole.stderr);
  t.regex(notTheRole.stderr, /is not a key of the staged roles \(targets\); nothing was changed/);
  const missing = await s.keyward([
    'trust',
    'repo',
    'delegate',
    s.dir,
    'team',
    '--path',
    'team/*',
    '--key',
    bPub,
    '--sign-with',
    `${keys.targets.replace(/token=[^;]+/, 'token=no-such-token')}`,
  ]);
  t.not(missing.code, 0);
  t.is((await s.keyward(['trust', 'repo', 'status', s.dir, '--json'])).stdout, before, 'nothing staged');
  t.deepEqual(readdirSync(join(s.dir, '.keyward', 'staged')), []);
  // Nor does it record where the keys it names live: repo.json is as it was.
  const config = readFileSync(join(s.dir, '.keyward', 'repo.json'), 'utf8');
  const teamKey = await s.key('team', 'p256');
  const unsigned = await s.keyward(['trust', 'repo', 'delegate', s.dir, 'team', '--path', 'team/*', '--key', teamKey, '--sign-with', keys.a]);
  t.is(unsigned.code, 3, unsigned.stderr);
  t.is(readFileSync(join(s.dir, '.keyward', 'repo.json'), 'utf8'), config);
});

test.serial('every trust command has help with examples', async (t) => {
  const commands = [
    ['trust'],
    ['trust', 'sign'],
    ['trust', 'client'],
    ...['init', 'refresh', 'download'].map((c) => ['trust', 'client', c]),
    ['trust', 'repo'],
    ...['init', 'add-target', 'delegate', 'hash-bins', 'undelegate', 'rotate-key', 'sign', 'status', 'publish', 'refresh', 'discard', 'upgrade'].map((c) => [
      'trust',
      'repo',
      c,
    ]),
  ];
  for (const command of commands) {
    const help = await runKeyward(
      command.at(-1) === 'client' || command.at(-2) === 'client'
        ? [...command.slice(0, 2), '--metadata-dir', '.', ...command.slice(2), '--help']
        : [...command, '--help'],
    );
    t.is(help.code, 0, command.join(' '));
    t.regex(help.stdout, /Examples:/, `${command.join(' ')} --help has examples`);
  }
});

/** A repository published by `trust repo init` with every key in SoftHSM; its targets key signs releases. */
async function publishedRepository(t: import('ava').ExecutionContext) {
  const s = await trustCliSetup(t, rig);
  const keys = {
    root: await s.key('root', 'p256'),
    targets: await s.key('targets', 'p256'),
    snapshot: await s.key('snapshot', 'ed25519'),
    timestamp: await s.key('timestamp', 'ed25519'),
  };
  const init = await s.init(keys);
  t.is(init.code, 0, init.stderr);
  const release = (name: string) => {
    const file = join(s.dir, '..', name);
    writeFileSync(file, `${name}\n`);
    return file;
  };
  /** `trust sign` of a release into targets, with KEYWARD_LOCK_WAIT and more in `env`. */
  const sign = (path: string, env: NodeJS.ProcessEnv = {}) =>
    runKeyward(['trust', 'sign', s.dir, path, '--file', release(path.replace(/\//g, '-')), '--key', keys.targets], { env: { ...s.env, ...env } });
  const published = () => {
    const metadata = (file: string) => JSON.parse(readFileSync(join(s.dir, 'public', 'metadata', file), 'utf8'));
    const timestamp = metadata('timestamp.json');
    const snapshot = metadata(`${timestamp.signed.meta['snapshot.json'].version}.snapshot.json`);
    const targets = metadata(`${snapshot.signed.meta['targets.json'].version}.targets.json`);
    return Object.keys(targets.signed.targets).sort();
  };
  return { s, keys, sign, published };
}

test.serial('one writer at a time: two trust sign at once both publish; a busy repository is waited for, or refused at once', async (t) => {
  const { s, sign, published } = await publishedRepository(t);
  // Twice over, two developers at once: no target lost (before the lock, 3 rounds in 8 lost one).
  for (const round of [1, 2]) {
    const [a, b] = await Promise.all([sign(`a/${round}`), sign(`b/${round}`)]);
    t.is(a.code, 0, a.stderr);
    t.is(b.code, 0, b.stderr);
  }
  t.deepEqual(published(), ['a/1', 'a/2', 'b/1', 'b/2']);

  // Held by a writer that runs (this test's process): refused at once with KEYWARD_LOCK_WAIT=0 …
  const lock = join(s.dir, '.keyward', 'lock');
  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-12-06T09:00:00.000Z', command: 'keyward trust sign' }));
  const busy = await sign('c/1', { KEYWARD_LOCK_WAIT: '0' });
  t.is(busy.code, 7, busy.stderr);
  t.regex(busy.stderr, new RegExp(`repository ${s.dir} is busy: keyward trust sign ${process.pid} holds it since 2026-12-06T09:00:00.000Z`));
  t.regex(busy.stderr, /hint: run the command again once it is done .*remove .*\.keyward\/lock/);
  t.deepEqual(published(), ['a/1', 'a/2', 'b/1', 'b/2'], 'nothing staged or published by the refused writer');
  t.deepEqual(readdirSync(join(s.dir, '.keyward', 'staged')), []);

  // … or waited for, saying so, and done once the holder is.
  const waiting = spawn(
    process.execPath,
    [KEYWARD_BIN, '--no-input', 'trust', 'sign', s.dir, 'c/1', '--digest', `sha256:${'ab'.repeat(32)}`, '--length', '3'],
    {
      env: { ...s.env, KEYWARD_LOCK_WAIT: '60' },
    },
  );
  let stderr = '';
  waiting.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => waiting.on('exit', resolve));
  while (!/waiting up to 60 s for the repository/.test(stderr)) await new Promise((r) => setTimeout(r, 50));
  t.regex(stderr, new RegExp(`keyward trust sign ${process.pid} holds it since`));
  rmSync(lock);
  t.is(await exited, 0, stderr);
  t.deepEqual(published(), ['a/1', 'a/2', 'b/1', 'b/2', 'c/1']);

  // A lock left by a writer that is gone (killed) is taken over without waiting.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(lock, JSON.stringify({ pid: gone, host: hostname(), since: '2026-12-06T09:00:00.000Z' }));
  const after = await sign('d/1', { KEYWARD_LOCK_WAIT: '0' });
  t.is(after.code, 0, after.stderr);
  t.false(existsSync(lock), 'released at exit');
});

test.serial('trust repo refresh refuses a metadata file linked outside the repository; the file it points at is untouched', async (t) => {
  const { s } = await publishedRepository(t);
  const outside = tempDir(t, 'keyward-trust-outside-');
  const victim = join(outside, 'victim');
  writeFileSync(victim, "the operator's own file\n");
  const link = join(s.dir, 'public', 'metadata', '2.snapshot.json');
  symlinkSync(victim, link);
  const refused = await s.keyward(['trust', 'repo', 'refresh', s.dir, '--snapshot']);
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, new RegExp(`${link} is a symbolic link \\(to ${victim}\\)`));
  t.regex(refused.stderr, /hint: remove the link; a TUF repository holds regular files only/);
  t.is(readFileSync(victim, 'utf8'), "the operator's own file\n");
  t.deepEqual(readdirSync(outside), ['victim']);
});

test.serial('trust repo discard drops staged changes, asking first (--yes answers), --json says which', async (t) => {
  const { s, sign, published } = await publishedRepository(t);
  const signed = await sign('a/1');
  t.is(signed.code, 0, signed.stderr);
  const before = published();
  const stage = await s.keyward(['trust', 'repo', 'add-target', s.dir, 'c/1', '--digest', `sha256:${'cd'.repeat(32)}`, '--length', '3', '--no-publish']);
  t.is(stage.code, 0, stage.stderr);
  t.deepEqual(readdirSync(join(s.dir, '.keyward', 'staged')), ['targets.json']);

  // No terminal to ask (--no-input, as the harness runs it) and no --yes: refused, nothing dropped.
  const unasked = await s.keyward(['trust', 'repo', 'discard', s.dir]);
  t.is(unasked.code, 2, unasked.stderr);
  t.regex(unasked.stderr, /refusing to discard staged changes without confirmation/);
  t.deepEqual(readdirSync(join(s.dir, '.keyward', 'staged')), ['targets.json']);
  const unknown = await s.keyward(['trust', 'repo', 'discard', s.dir, 'root', '--yes']);
  t.is(unknown.code, 2, unknown.stderr);
  t.regex(unknown.stderr, /nothing is staged for "root"; staged: targets/);

  const discarded = await s.keyward(['trust', 'repo', 'discard', s.dir, 'targets', '--yes', '--json']);
  t.is(discarded.code, 0, discarded.stderr);
  t.deepEqual(JSON.parse(discarded.stdout), { discarded: ['targets'] });
  t.deepEqual(readdirSync(join(s.dir, '.keyward', 'staged')), []);
  t.deepEqual(published(), before, 'what was published stays');
  const again = await s.keyward(['trust', 'repo', 'discard', s.dir, '--yes']);
  t.is(again.code, 2);
  t.regex(again.stderr, /has no staged changes to discard/);
});
