/**
 * Keyward's TUF writer with every key in a device (SoftHSM, the virtual YubiKey), read by tuf-js and
 * by Keyward's own client over a static HTTP server on 127.0.0.1: plain, after root and key
 * rotations, a 2-of-3 delegation across devices signed on different occasions, hash bins, refresh
 * and removal of a delegate.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConflictError, UsageError, type KeywardError } from '../../src/errors.js';
import { initClient, Updater } from '../../src/trust/client/updater.js';
import { keyIdOf } from '../../src/trust/keys.js';
import { Repository, type InitOptions } from '../../src/trust/repository/repository.js';
import { targetFileOf } from '../../src/trust/targets.js';
import type { TufSigner } from '../../src/trust/repository/signer.js';
import { markerModule } from '../harness/marker-module.js';
import { tempDir } from '../harness/temp.js';
import { devices, tufJsDownloadAll, type Devices } from '../harness/tuf-writer.js';
import { staticServer } from '../harness/tuf.js';

const content = (path: string) => Buffer.from(`the content of ${path}\n`);

interface Fixture {
  dev: Devices;
  repo: Repository;
  signers: Record<'root' | 'targets' | 'snapshot' | 'timestamp', TufSigner>;
  initialRoot: Buffer;
}

async function fixture(t: import('ava').ExecutionContext): Promise<Fixture> {
  const dev = await devices();
  t.teardown(() => dev.close());
  const signers = {
    root: await dev.softhsm('p384'),
    targets: await dev.softhsm('p256'),
    snapshot: await dev.softhsm('ed25519'),
    timestamp: await dev.softhsm('ed25519'),
  };
  const setup = (s: TufSigner) => ({ keys: [{ key: s.key, signer: s }], threshold: 1 });
  const options: InitOptions = {
    root: setup(signers.root),
    targets: setup(signers.targets),
    snapshot: setup(signers.snapshot),
    timestamp: setup(signers.timestamp),
  };
  const repo = await Repository.init(tempDir(t, 'keyward-tuf-repo-'), options, dev.keystore);
  return { dev, repo, signers, initialRoot: readFileSync(join(repo.layout.metadataDir, '1.root.json')) };
}

function addFile(repo: Repository, path: string, role?: string): void {
  const bytes = content(path);
  repo.layout.writeTarget(path, createHash('sha256').update(bytes).digest('hex'), bytes);
  repo.addTarget(path, targetFileOf(bytes), role);
}

/** tuf-js and Keyward's client, each from a fresh start, download every path and get the right bytes. */
async function bothClientsDownload(t: import('ava').ExecutionContext, f: Fixture, paths: string[]): Promise<void> {
  const server = await staticServer(f.repo.layout.dir);
  try {
    const tufjs = await tufJsDownloadAll(t, server.url, f.initialRoot, paths);
    for (const path of paths) t.deepEqual(readFileSync(tufjs[path]!), content(path), `tuf-js: ${path}`);
    const metadataDir = tempDir(t, 'keyward-tuf-client-');
    initClient(metadataDir, f.initialRoot);
    const updater = new Updater({ metadataDir, metadataUrl: `${server.url}/metadata`, targetBaseUrl: `${server.url}/targets` });
    for (const path of paths)
      t.deepEqual(readFileSync((await updater.downloadTarget(path, tempDir(t, 'keyward-tuf-targets-'))).file), content(path), `Keyward: ${path}`);
  } finally {
    await server.close();
  }
}

test('init publishes at once when every key is at hand; tuf-js downloads every target', async (t) => {
  const f = await fixture(t);
  t.false(f.repo.hasStagedChanges());
  addFile(f.repo, 'app/v1.0.tar.gz');
  addFile(f.repo, 'README');
  t.true(f.repo.hasStagedChanges());
  await f.repo.sign([f.signers.targets]);
  const report = await f.repo.publish();
  t.deepEqual(report, { published: [{ role: 'targets', version: 2 }], snapshot: 2, timestamp: 2 });
  await bothClientsDownload(t, f, ['app/v1.0.tar.gz', 'README']);
  // An image manifest: a target from its digest and length, no file stored.
  f.repo.addTarget('registry.example/app:1.0', {
    length: 1234,
    hashes: { sha256: 'ab'.repeat(32) },
    custom: { mediaType: 'application/vnd.oci.image.manifest.v1+json' },
  });
  await f.repo.sign([f.signers.targets]);
  await f.repo.publish();
  const server = await staticServer(f.repo.layout.dir);
  const metadataDir = tempDir(t, 'keyward-tuf-client-');
  initClient(metadataDir, f.initialRoot);
  const found = await new Updater({ metadataDir, metadataUrl: `${server.url}/metadata` }).findTarget('registry.example/app:1.0');
  t.deepEqual(found?.info, { length: 1234, hashes: { sha256: 'ab'.repeat(32) }, custom: { mediaType: 'application/vnd.oci.image.manifest.v1+json' } });
  await server.close();
});

test('root rotation signed by the old and the new root keys; tuf-js from the first root follows it', async (t) => {
  const f = await fixture(t);
  addFile(f.repo, 'file.txt');
  const newRoot = [await f.dev.softhsm('ed25519'), await f.dev.softhsm('p256')];
  f.repo.rotate('root', { add: newRoot.map((s) => s.key), remove: [f.signers.root.keyid], threshold: 2 });
  await f.repo.sign([f.signers.targets, newRoot[0]!]);
  const root = f.repo.status().find((s) => s.role === 'root')!;
  t.like(root, { version: 2, staged: true, met: false });
  t.deepEqual(
    root.requirements.map((r) => [r.by, r.signed.length, r.threshold, r.met]),
    [
      ['root v1 (the trusted root)', 0, 1, false],
      ['root v2', 1, 2, false],
    ],
  );
  await t.throwsAsync(f.repo.publish(), {
    instanceOf: ConflictError,
    message: /root v2 is not ready: root v1 \(the trusted root\) needs 1, has 0; root v2 needs 2, has 1/,
  });
  await f.repo.sign([f.signers.root]);
  await f.repo.sign([newRoot[1]!]);
  t.true(f.repo.ready());
  await f.repo.publish();
  await bothClientsDownload(t, f, ['file.txt']);
});

test('key rotation of targets, snapshot and timestamp; clients from the first root follow', async (t) => {
  const f = await fixture(t);
  addFile(f.repo, 'before.txt');
  await f.repo.sign([f.signers.targets]);
  await f.repo.publish();
  const targets = await f.dev.softhsm('rsa2048');
  const timestamp = await f.dev.softhsm('p256');
  f.repo.rememberKey(timestamp);
  f.repo.rotate('targets', { add: [targets.key], remove: [f.signers.targets.keyid] });
  f.repo.rotate('timestamp', { add: [timestamp.key], remove: [f.signers.timestamp.keyid] });
  addFile(f.repo, 'after.txt');
  await f.repo.sign([f.signers.root, targets]);
  await f.repo.publish();
  const published = JSON.parse(readFileSync(join(f.repo.layout.metadataDir, 'timestamp.json'), 'utf8'));
  t.deepEqual(
    published.signatures.map((s: { keyid: string }) => s.keyid),
    [keyIdOf(timestamp.key)],
    'the new timestamp key signs',
  );
  await bothClientsDownload(t, f, ['before.txt', 'after.txt']);
});

test('a delegation whose threshold is 2 of 3 keys over the virtual YubiKey and SoftHSM, signed one key at a time, then rotated', async (t) => {
  const f = await fixture(t);
  const keys = [await f.dev.yubikey('9c', 'p256'), await f.dev.softhsm('p256'), await f.dev.softhsm('ed25519')];
  f.repo.delegate('targets', { name: 'releases', keys: keys.map((k) => k.key), threshold: 2, paths: ['releases/*'], terminating: true });
  await f.repo.sign([f.signers.targets]);
  addFile(f.repo, 'releases/app-2.0.tar.gz');
  t.is(f.repo.responsibleRole('releases/app-2.0.tar.gz'), 'releases');
  // First signer, on the YubiKey (a touch), twice: a key counts once however often it signs.
  await f.repo.sign([keys[0]!]);
  await f.repo.sign([keys[0]!]);
  const releases = () => f.repo.status().find((s) => s.role === 'releases')!;
  t.like(releases(), { staged: true, met: false, version: 1 });
  t.deepEqual(
    releases().requirements[0]!.signed.map((k) => k.keyid),
    [keys[0]!.keyid],
  );
  t.is(releases().requirements[0]!.missing.length, 2);
  t.false(f.repo.ready());
  await t.throwsAsync(f.repo.publish(), { instanceOf: ConflictError, message: /releases v1 is not ready: targets needs 2, has 1/ });
  t.throws(() => readFileSync(join(f.repo.layout.metadataDir, '1.releases.json')), undefined, 'nothing was published');
  // Another day, another device.
  await Repository.open(f.repo.layout.dir, f.dev.keystore).sign([keys[2]!]);
  t.true(f.repo.ready());
  await f.repo.publish();
  await bothClientsDownload(t, f, ['releases/app-2.0.tar.gz']);
  // The YubiKey is lost: its key leaves the delegation, a new one joins; targets re-signs the
  // delegation and the role is re-signed by two of its new keys.
  const replacement = await f.dev.softhsm('p384');
  f.repo.rotate('releases', { remove: [keys[0]!.keyid], add: [replacement.key] });
  await f.repo.sign([f.signers.targets, keys[1]!]);
  t.false(f.repo.ready(), 'one of the two signatures releases needs');
  await f.repo.sign([replacement]);
  t.like(await f.repo.publish(), {
    published: [
      { role: 'targets', version: 3 },
      { role: 'releases', version: 2 },
    ],
  });
  await bothClientsDownload(t, f, ['releases/app-2.0.tar.gz']);
});

test('hash-bin delegations: targets spread over bins; tuf-js and Keyward find every one', async (t) => {
  const f = await fixture(t);
  const binKey = await f.dev.softhsm('ed25519');
  const bins = f.repo.hashBins('targets', 16, [binKey.key], 1);
  t.is(bins.length, 16);
  const paths = Array.from({ length: 40 }, (_, i) => `packages/pkg-${i}.whl`);
  for (const path of paths) addFile(f.repo, path);
  const used = new Set(paths.map((p) => f.repo.responsibleRole(p)));
  t.true(used.size > 8 && [...used].every((b) => bins.includes(b)), 'targets land in their bins');
  await f.repo.sign([f.signers.targets, binKey]);
  await f.repo.publish();
  await bothClientsDownload(t, f, paths);
});

test('refresh (the cron job) signs a new timestamp; removing a delegate hides its targets', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  f.repo.delegate('targets', { name: 'team', keys: [key.key], threshold: 1, paths: ['team/*'] });
  addFile(f.repo, 'team/tool');
  await f.repo.sign([f.signers.targets, key]);
  await f.repo.publish();
  const before = f.repo.status().find((s) => s.role === 'timestamp')!.version;
  t.like(await f.repo.refresh(), { published: [], timestamp: before + 1 });
  t.like(await f.repo.refresh({ snapshot: true }), { timestamp: before + 2 });
  await bothClientsDownload(t, f, ['team/tool']);
  t.is(f.repo.undelegate('team'), 'targets');
  await f.repo.sign([f.signers.targets]);
  await f.repo.publish();
  t.false(f.repo.targetsRoles().includes('team'));
  await t.throwsAsync(bothClientsDownload(t, f, ['team/tool']), { message: /no target team\/tool/ });
});

test('repo.json is input: its key URIs may not load a module nobody allowed, nor say where a PIN comes from', async (t) => {
  const f = await fixture(t);
  const module = markerModule(t);
  const file = join(f.repo.layout.dir, '.keyward', 'repo.json');
  const original = readFileSync(file, 'utf8');
  const timestampUri = f.signers.timestamp.uri;
  const edited = (replacement: string) => writeFileSync(file, original.replace(JSON.stringify(timestampUri), JSON.stringify(replacement)));
  const before = f.repo.status().find((s) => s.role === 'timestamp')!.version;

  edited(`${timestampUri}?module-path=${module.path}`);
  const refused = await t.throwsAsync<KeywardError>(Repository.open(f.repo.layout.dir, f.dev.keystore).refresh());
  t.is(refused?.code, 'MODULE_NOT_ALLOWED', refused?.message);
  t.false(module.loaded(), 'the module named in repo.json was never loaded');

  edited(`${timestampUri}?pin-source=file:/tmp/wrong-pin`);
  t.throws(() => Repository.open(f.repo.layout.dir, f.dev.keystore).status(), {
    code: 'TUF_REPO_CONFIG_INVALID',
    message: /may not say where a PIN or key comes from/,
  });
  writeFileSync(file, original);
  t.is(f.repo.status().find((s) => s.role === 'timestamp')!.version, before, 'nothing was published meanwhile');
  t.like(await f.repo.refresh(), { timestamp: before + 1 }, 'the untouched file works as before');
});

test('threshold 0 and thresholds no keys can meet are refused before anything is written', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  t.throws(() => f.repo.delegate('targets', { name: 'zero', keys: [key.key], threshold: 0, paths: ['*'] }), {
    instanceOf: UsageError,
    message: /zero: threshold 0 refused/,
  });
  t.throws(() => f.repo.delegate('targets', { name: 'two', keys: [key.key], threshold: 2, paths: ['*'] }), {
    instanceOf: UsageError,
    message: /cannot be met by 1 key/,
  });
  t.throws(() => f.repo.rotate('root', { threshold: 0 }), { instanceOf: UsageError });
  t.false(f.repo.hasStagedChanges());
});

/** What Keyward's client, from the first root, finds for `path` (undefined: the repository has no such target). */
async function keywardFinds(t: import('ava').ExecutionContext, f: Fixture, path: string) {
  const server = await staticServer(f.repo.layout.dir);
  try {
    const metadataDir = tempDir(t, 'keyward-tuf-client-');
    initClient(metadataDir, f.initialRoot);
    return await new Updater({ metadataDir, metadataUrl: `${server.url}/metadata` }).findTarget(path);
  } finally {
    await server.close();
  }
}

test('a new delegation is staged with its role file, so clients can search it before its first target', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  f.repo.delegate('targets', { name: 'rel', keys: [key.key], threshold: 1, paths: ['rel/*'] });
  t.like(
    f.repo.status().find((s) => s.role === 'rel'),
    { version: 1, staged: true, met: false },
  );
  await f.repo.sign([f.signers.targets]);
  t.false(f.repo.ready(), 'the new role waits for its own key');
  await f.repo.sign([key]);
  t.like(await f.repo.publish(), {
    published: [
      { role: 'targets', version: 2 },
      { role: 'rel', version: 1 },
    ],
  });
  t.is(await keywardFinds(t, f, 'rel/x'), undefined);
});

test('a role delegated again after undelegate starts empty, above every published version of its name', async (t) => {
  const f = await fixture(t);
  const [a, b] = [await f.dev.softhsm('ed25519'), await f.dev.softhsm('ed25519')];
  f.repo.delegate('targets', { name: 'team', keys: [a.key], threshold: 1, paths: ['team/*'] });
  addFile(f.repo, 'team/evil');
  await f.repo.sign([f.signers.targets, a]);
  await f.repo.publish();
  f.repo.undelegate('team');
  await f.repo.sign([f.signers.targets]);
  await f.repo.publish();
  f.repo.delegate('targets', { name: 'team', keys: [b.key], threshold: 1, paths: ['team/*'] });
  addFile(f.repo, 'team/good');
  const team = f.repo.targets('team')!.signed;
  t.deepEqual(Object.keys(team.targets), ['team/good'], 'the old targets stay gone');
  t.is(team.version, 2, 'v1 was published under this name: clients would refuse another v1 as a rollback');
  await f.repo.sign([f.signers.targets, b]);
  await f.repo.publish();
  await bothClientsDownload(t, f, ['team/good']);
  t.is(await keywardFinds(t, f, 'team/evil'), undefined);
});

test('a change for a role nothing delegates to is refused; undelegate drops staged delegates; an orphan staged file is named', async (t) => {
  const f = await fixture(t);
  const info = targetFileOf(content('x'));
  t.throws(() => f.repo.addTarget('x', info, 'typo'), { code: 'TUF_ROLE_UNKNOWN' });
  const key = await f.dev.softhsm('ed25519');
  t.throws(() => f.repo.delegate('nope', { name: 'sub', keys: [key.key], threshold: 1, paths: ['*'] }), {
    code: 'TUF_ROLE_UNKNOWN',
    message: /no role "nope"/,
  });
  t.throws(() => f.repo.addTargets({ x: info }, 'typo'), { code: 'TUF_ROLE_UNKNOWN' });
  t.false(f.repo.hasStagedChanges(), 'nothing was staged');

  f.repo.delegate('targets', { name: 'A', keys: [key.key], threshold: 1, paths: ['a/*'] });
  f.repo.delegate('A', { name: 'B', keys: [key.key], threshold: 1, paths: ['a/b/*'] });
  t.throws(() => f.repo.addTarget('other/x', info, 'A'), { code: 'TUF_PATH_NOT_DELEGATED', message: /"other\/x" is not delegated to "A"/ });
  t.throws(() => f.repo.addTarget('a/x', info, 'B'), { code: 'TUF_PATH_NOT_DELEGATED', message: /"a\/x" is not delegated to "B"/ });
  f.repo.undelegate('A');
  t.deepEqual(f.repo.layout.stagedRoles().sort(), ['targets']);
  await f.repo.sign([f.signers.targets]);
  t.like(await f.repo.publish(), { published: [{ role: 'targets', version: 2 }] });

  writeFileSync(f.repo.layout.stagedPath('ghost'), readFileSync(join(f.repo.layout.metadataDir, '2.targets.json')));
  t.throws(() => f.repo.status(), { code: 'TUF_STAGED_ORPHAN', message: /staged\/ghost\.json stages role "ghost", which no role delegates to/ });
  await t.throwsAsync(f.repo.sign([f.signers.targets]), { code: 'TUF_STAGED_ORPHAN' });
});

test('staged metadata past its expiry is neither signed nor published', async (t) => {
  const f = await fixture(t);
  addFile(f.repo, 'file.txt');
  const later = Repository.open(f.repo.layout.dir, f.dev.keystore, () => new Date(Date.now() + 91 * 86_400_000));
  await t.throwsAsync(later.sign([f.signers.targets]), { code: 'TUF_STAGED_EXPIRED', message: /staged targets v2 expired at/ });
  await f.repo.sign([f.signers.targets]);
  await t.throwsAsync(later.publish(), { code: 'TUF_STAGED_EXPIRED' });
  await t.throwsAsync(later.refresh(), { code: 'TUF_STAGED_EXPIRED' });
  t.is(f.repo.status().find((s) => s.role === 'targets')!.version, 2);
  t.true(f.repo.hasStagedChanges(), 'nothing was published');
});

test('an edit gives the staged role a fresh expiry', async (t) => {
  const f = await fixture(t);
  addFile(f.repo, 'one');
  const first = f.repo.targets('targets')!.signed.expires;
  const later = Repository.open(f.repo.layout.dir, f.dev.keystore, () => new Date(Date.now() + 30 * 86_400_000));
  later.addTarget('two', targetFileOf(content('two')));
  t.true(Date.parse(later.targets('targets')!.signed.expires) > Date.parse(first));
});

test('a stray staged file name is refused by name, not with a URIError', async (t) => {
  const f = await fixture(t);
  writeFileSync(join(f.repo.layout.dir, '.keyward', 'staged', 'bad%zz.json'), '{}');
  t.throws(() => f.repo.status(), { instanceOf: UsageError, code: 'TUF_STAGED_NAME', message: /bad%zz\.json/ });
});

test('hash bins are all or nothing: a clash with an existing role stages none', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  f.repo.delegate('targets', { name: 'bins-c', keys: [key.key], threshold: 1, paths: ['c/*'] });
  await f.repo.sign([f.signers.targets, key]);
  await f.repo.publish();
  t.throws(() => f.repo.hashBins('targets', 16, [key.key], 1), { instanceOf: ConflictError, message: /"bins-c" already exists/ });
  t.false(f.repo.hasStagedChanges());
});

// ── no write (or read) through a link planted in the repository ────────────────────────────────

const VICTIM = "the operator's own file\n";

/** A directory beside the repository, with a file a planted link would aim at. */
function outside(t: import('ava').ExecutionContext): { dir: string; victim: string } {
  const dir = tempDir(t, 'keyward-tuf-outside-');
  const victim = join(dir, 'victim');
  writeFileSync(victim, VICTIM);
  return { dir, victim };
}

/** Refused as a link, naming it, with the repository's hint. */
async function refusesLink(t: import('ava').ExecutionContext, action: () => unknown, link: string, what: string): Promise<void> {
  const error = await t.throwsAsync(async () => action(), { instanceOf: UsageError }, what);
  t.is(error?.code, 'LINK_REFUSED', `${what}: ${error?.message}`);
  t.true(error?.message.startsWith(`${link} is a symbolic link`), `${what}: ${error?.message}`);
  t.is(error?.hint, 'remove the link; a TUF repository holds regular files only');
}

test('a metadata file linked outside (to a file, or to nothing): refresh refuses it, the file is untouched, nothing is made outside', async (t) => {
  const f = await fixture(t);
  const out = outside(t);
  const timestamp = readFileSync(join(f.repo.layout.metadataDir, 'timestamp.json'));
  const link = join(f.repo.layout.metadataDir, '2.snapshot.json');
  symlinkSync(out.victim, link);
  await refusesLink(t, () => f.repo.refresh({ snapshot: true }), link, 'a link to a file');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);
  t.true(lstatSync(link).isSymbolicLink(), 'the link stays: it is evidence');
  t.deepEqual(readFileSync(join(f.repo.layout.metadataDir, 'timestamp.json')), timestamp, 'no timestamp for a snapshot never written');

  rmSync(link);
  symlinkSync(join(out.dir, 'created'), link);
  await refusesLink(t, () => f.repo.refresh({ snapshot: true }), link, 'a dangling link');
  t.deepEqual(readdirSync(out.dir), ['victim'], 'nothing created where it points');

  // timestamp.json is read as well as written: a link there is refused, never followed.
  const ts = join(f.repo.layout.metadataDir, 'timestamp.json');
  rmSync(link);
  rmSync(ts);
  symlinkSync(out.victim, ts);
  await refusesLink(t, () => f.repo.refresh(), ts, 'timestamp.json a link');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);
});

test('targets/<dir> linked to a directory outside: the release is refused, nothing lands outside', async (t) => {
  const f = await fixture(t);
  const out = outside(t);
  const link = join(f.repo.layout.targetsDir, 'releases');
  symlinkSync(out.dir, link);
  await refusesLink(t, () => addFile(f.repo, 'releases/app-1.0.tar.gz'), link, 'a linked targets directory');
  t.deepEqual(readdirSync(out.dir), ['victim']);
});

test('a link inside .keyward/staged (a staged role, or the directory itself): refused, its target untouched', async (t) => {
  const f = await fixture(t);
  const out = outside(t);
  const staged = join(f.repo.layout.dir, '.keyward', 'staged');
  const link = join(staged, 'targets.json');
  symlinkSync(out.victim, link);
  const info = targetFileOf(content('x'));
  await refusesLink(t, () => f.repo.addTarget('x', info), link, 'a staged role linked to a file');
  await refusesLink(t, () => f.repo.status(), link, 'reading it');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);

  rmSync(staged, { recursive: true });
  symlinkSync(out.dir, staged);
  await refusesLink(t, () => f.repo.addTarget('x', info), staged, 'the staged directory a link');
  t.deepEqual(readdirSync(out.dir), ['victim']);
  // The lock is made in .keyward/ too: a link there is refused before any writer works.
  rmSync(staged);
  mkdirSync(staged);
  const lock = join(f.repo.layout.dir, '.keyward', 'lock');
  symlinkSync(join(out.dir, 'lock'), lock);
  await refusesLink(t, () => f.repo.exclusive(() => undefined), lock, 'the lock a dangling link');
  t.deepEqual(readdirSync(out.dir), ['victim']);
});

// ── one writer at a time ───────────────────────────────────────────────────────────────────────

/** What two writers do at once: add a target, sign it, publish, each through its own Repository. */
async function addSignPublish(f: Fixture, path: string, lock = true): Promise<void> {
  const repo = Repository.open(f.repo.layout.dir, f.dev.keystore);
  const work = async () => {
    addFile(repo, path);
    await repo.sign([f.signers.targets]);
    await repo.publish();
  };
  await (lock ? repo.exclusive(work) : work());
}

test('two writers at once: the second waits for the first, and both targets are published', async (t) => {
  const f = await fixture(t);
  await Promise.all([addSignPublish(f, 'a/one'), addSignPublish(f, 'b/two')]);
  t.deepEqual(Object.keys(Repository.open(f.repo.layout.dir).targets('targets')!.signed.targets).sort(), ['a/one', 'b/two']);
  t.false(existsSync(join(f.repo.layout.dir, '.keyward', 'lock')), 'the lock is gone once both are done');
  await bothClientsDownload(t, f, ['a/one', 'b/two']);
});

test('a writer that may not wait is refused, naming who holds the repository; another waits, saying so, and goes on', async (t) => {
  const f = await fixture(t);
  let release!: () => void;
  const held = f.repo.exclusive(() => new Promise<void>((resolve) => (release = resolve)));
  const other = Repository.open(f.repo.layout.dir, f.dev.keystore);
  const busy = await t.throwsAsync(
    other.exclusive(() => 'never', { waitMs: 0 }),
    { instanceOf: ConflictError },
  );
  t.is(busy?.code, 'TUF_REPO_BUSY');
  t.regex(busy!.message, new RegExp(`^repository ${f.repo.layout.dir} is busy: process ${process.pid} holds it since \\d{4}-\\d\\d-\\d\\dT`));
  t.regex(busy!.hint!, /remove .*\.keyward\/lock/);
  const waited: string[] = [];
  const ran: string[] = [];
  const later = other.exclusive(() => (ran.push('second writer'), 'done'), { waitMs: 10_000, onWait: (holder) => waited.push(String(holder?.pid)) });
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(ran, [], 'the second writer has not run while the first holds the repository');
  release();
  await held;
  t.is(await later, 'done');
  t.deepEqual(waited, [String(process.pid)], 'told once that it waits, and for whom');
});

test('a lock left by a process that is gone is taken over; one from another host is not', async (t) => {
  const f = await fixture(t);
  const lock = join(f.repo.layout.dir, '.keyward', 'lock');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // ran and exited: its pid runs nothing of its own now
  writeFileSync(lock, JSON.stringify({ pid: gone, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
  t.is(await f.repo.exclusive(() => 'taken over', { waitMs: 0 }), 'taken over');
  t.false(existsSync(lock));
  // A reused pid: this very process, but started at another time than the lock says.
  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', started: '1' }));
  t.is(await f.repo.exclusive(() => 'pid reused', { waitMs: 0 }), 'pid reused');
  writeFileSync(lock, JSON.stringify({ pid: gone, host: 'elsewhere.example', since: '2026-01-01T00:00:00.000Z' }));
  await t.throwsAsync(
    f.repo.exclusive(() => 'never', { waitMs: 0 }),
    { code: 'TUF_REPO_BUSY', message: /process \d+ on elsewhere\.example holds it/ },
  );
});

// ── discard ────────────────────────────────────────────────────────────────────────────────────

test('discard drops the named roles (and delegates they alone reached), or every staged change', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('p256');
  f.repo.delegate('targets', { name: 'releases', keys: [key.key], threshold: 1, paths: ['releases/*'] });
  addFile(f.repo, 'README');
  t.deepEqual(f.repo.layout.stagedRoles().sort(), ['releases', 'targets']);
  t.throws(() => f.repo.discard(['root']), { code: 'TUF_NOTHING_STAGED', message: /nothing is staged for "root"; staged: / });
  t.deepEqual(f.repo.layout.stagedRoles().sort(), ['releases', 'targets'], 'a refused discard drops nothing');
  // Targets held the delegation: without it "releases" could never be published, so it goes too.
  t.deepEqual(f.repo.discard(['targets']), ['targets', 'releases']);
  t.false(f.repo.hasStagedChanges());
  t.throws(() => f.repo.discard(), { code: 'TUF_NOTHING_STAGED' });
  addFile(f.repo, 'README');
  t.deepEqual(f.repo.discard(), ['targets']);
  t.deepEqual(
    f.repo.status().map((s) => `${s.role} v${s.version} ${s.staged}`),
    ['root v1 false', 'targets v1 false', 'snapshot v1 false', 'timestamp v1 false'],
  );
});
