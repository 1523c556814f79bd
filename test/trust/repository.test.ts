/**
 * Keyward's TUF writer with every key in a device (SoftHSM, the virtual YubiKey), read by tuf-js and
 * by Keyward's own client over a static HTTP server on 127.0.0.1: plain, after root and key
 * rotations, a 2-of-3 delegation across devices signed on different occasions, hash bins, refresh
 * and removal of a delegate.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConflictError, UsageError, type KeywardError } from '../../src/errors.js';
import { initClient, Updater } from '../../src/trust/client/updater.js';
import { keyIdOf } from '../../src/trust/keys.js';
import type { RepositoryEdits } from '../../src/trust/repository/edits.js';
import { Repository, type ChangeRequest, type InitOptions } from '../../src/trust/repository/repository.js';
import type { Review } from '../../src/trust/repository/review.js';
import { targetFileOf } from '../../src/trust/targets.js';
import type { TufSigner } from '../../src/trust/signer.js';
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
  const repo = await Repository.init(tempDir(t, 'keyward-tuf-repo-'), options, { keystore: dev.keystore });
  return { dev, repo, signers, initialRoot: readFileSync(metadataPath(repo, '1.root.json')) };
}

const metadataPath = (repo: Repository, file: string) => join(repo.publicDir, 'metadata', file);

/** Adds a target with its file. */
function addFile(edits: RepositoryEdits, path: string, role?: string): void {
  const bytes = content(path);
  edits.addTarget(path, targetFileOf(bytes), { role, bytes });
}

/** The tests play every key holder, each of whom has seen what the others staged. */
const seenByAll = () => undefined;

/** Makes a change (or signs what is staged) and signs it with `signers`; publishes only when asked. */
async function change<T>(repo: Repository, signers: TufSigner[], edit?: (edits: RepositoryEdits) => T, more: Partial<ChangeRequest<T>> = {}) {
  return repo.change({ edit, signers, approve: seenByAll, publish: false, ...more });
}

/** Stages a change unsigned (another key holder signs it later). */
async function stage(repo: Repository, edit: (edits: RepositoryEdits) => unknown) {
  return change(repo, [], edit);
}

/** tuf-js and Keyward's client, each from a fresh start, download every path and get the right bytes. */
async function bothClientsDownload(t: import('ava').ExecutionContext, f: Fixture, paths: string[]): Promise<void> {
  const server = await staticServer(f.repo.publicDir);
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
  await stage(f.repo, (e) => {
    addFile(e, 'app/v1.0.tar.gz');
    addFile(e, 'README');
  });
  t.true(f.repo.hasStagedChanges());
  const report = await change(f.repo, [f.signers.targets], undefined, { publish: true });
  t.deepEqual(report.published, { published: [{ role: 'targets', version: 2 }], snapshot: 2, timestamp: 2 });
  await bothClientsDownload(t, f, ['app/v1.0.tar.gz', 'README']);
  // An image manifest: a target from its digest and length, no file stored.
  const manifest = { length: 1234, hashes: { sha256: 'ab'.repeat(32) }, custom: { mediaType: 'application/vnd.oci.image.manifest.v1+json' } };
  await change(f.repo, [f.signers.targets], (e) => e.addTarget('registry.example/app:1.0', manifest), { publish: true });
  const server = await staticServer(f.repo.publicDir);
  const metadataDir = tempDir(t, 'keyward-tuf-client-');
  initClient(metadataDir, f.initialRoot);
  const found = await new Updater({ metadataDir, metadataUrl: `${server.url}/metadata` }).findTarget('registry.example/app:1.0');
  t.deepEqual(found?.info, manifest);
  await server.close();
});

test('root rotation signed by the old and the new root keys; tuf-js from the first root follows it', async (t) => {
  const f = await fixture(t);
  const newRoot = [await f.dev.softhsm('ed25519'), await f.dev.softhsm('p256')];
  await change(f.repo, [f.signers.targets, newRoot[0]!], (e) => {
    addFile(e, 'file.txt');
    e.rotate('root', { add: newRoot.map((s) => s.key), remove: [f.signers.root.keyid], threshold: 2 });
  });
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
  await change(f.repo, [f.signers.root]);
  const last = await change(f.repo, [newRoot[1]!], undefined, { publish: true });
  t.truthy(last.published);
  await bothClientsDownload(t, f, ['file.txt']);
});

test('key rotation of targets, snapshot and timestamp; clients from the first root follow', async (t) => {
  const f = await fixture(t);
  await change(f.repo, [f.signers.targets], (e) => addFile(e, 'before.txt'), { publish: true });
  const targets = await f.dev.softhsm('rsa2048');
  const timestamp = await f.dev.softhsm('p256');
  await change(
    f.repo,
    [f.signers.root, targets],
    (e) => {
      e.rotate('targets', { add: [targets.key], remove: [f.signers.targets.keyid] });
      e.rotate('timestamp', { add: [timestamp.key], remove: [f.signers.timestamp.keyid] });
      addFile(e, 'after.txt');
    },
    { remember: [timestamp], publish: true },
  );
  const published = JSON.parse(readFileSync(metadataPath(f.repo, 'timestamp.json'), 'utf8'));
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
  await change(f.repo, [f.signers.targets], (e) =>
    e.delegate('targets', { name: 'releases', keys: keys.map((k) => k.key), threshold: 2, paths: ['releases/*'], terminating: true }),
  );
  t.is(f.repo.responsibleRole('releases/app-2.0.tar.gz'), 'releases');
  // First signer, on the YubiKey (a touch), twice: a key counts once however often it signs.
  await change(f.repo, [keys[0]!], (e) => addFile(e, 'releases/app-2.0.tar.gz'));
  await change(f.repo, [keys[0]!], undefined, { roles: ['releases'] });
  const releases = () => f.repo.status().find((s) => s.role === 'releases')!;
  t.like(releases(), { staged: true, met: false, version: 1 });
  t.deepEqual(
    releases().requirements[0]!.signed.map((k) => k.keyid),
    [keys[0]!.keyid],
  );
  t.is(releases().requirements[0]!.missing.length, 2);
  await t.throwsAsync(f.repo.publish(), { instanceOf: ConflictError, message: /releases v1 is not ready: targets needs 2, has 1/ });
  t.false(existsSync(metadataPath(f.repo, '1.releases.json')), 'nothing was published');
  // Another day, another device.
  const other = Repository.open(f.repo.dir, { keystore: f.dev.keystore });
  t.like(await change(other, [keys[2]!], undefined, { publish: true }), { published: { published: [{ role: 'targets' }, { role: 'releases' }] } });
  await bothClientsDownload(t, f, ['releases/app-2.0.tar.gz']);
  // The YubiKey is lost: its key leaves the delegation, a new one joins; targets re-signs the
  // delegation and the role is re-signed by two of its new keys.
  const replacement = await f.dev.softhsm('p384');
  const rotated = await change(f.repo, [f.signers.targets, keys[1]!], (e) => e.rotate('releases', { remove: [keys[0]!.keyid], add: [replacement.key] }), {
    publish: true,
  });
  t.is(rotated.published, undefined, 'one of the two signatures releases needs');
  t.like(await change(f.repo, [replacement], undefined, { publish: true }), {
    published: {
      published: [
        { role: 'targets', version: 3 },
        { role: 'releases', version: 2 },
      ],
    },
  });
  await bothClientsDownload(t, f, ['releases/app-2.0.tar.gz']);
});

test('hash-bin delegations: targets spread over bins; tuf-js and Keyward find every one', async (t) => {
  const f = await fixture(t);
  const binKey = await f.dev.softhsm('ed25519');
  const paths = Array.from({ length: 40 }, (_, i) => `packages/pkg-${i}.whl`);
  const { result: bins } = await change(
    f.repo,
    [f.signers.targets, binKey],
    (e) => {
      const names = e.hashBins('targets', 16, [binKey.key], 1);
      for (const path of paths) addFile(e, path);
      return names;
    },
    { publish: true },
  );
  t.is(bins?.length, 16);
  const used = new Set(paths.map((p) => f.repo.responsibleRole(p)));
  t.true(used.size > 8 && [...used].every((b) => bins!.includes(b)), 'targets land in their bins');
  await bothClientsDownload(t, f, paths);
});

test('refresh (the cron job) signs a new timestamp; removing a delegate hides its targets', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  await change(
    f.repo,
    [f.signers.targets, key],
    (e) => {
      e.delegate('targets', { name: 'team', keys: [key.key], threshold: 1, paths: ['team/*'] });
      addFile(e, 'team/tool');
    },
    { publish: true },
  );
  const before = f.repo.status().find((s) => s.role === 'timestamp')!.version;
  t.like(await f.repo.refresh(), { published: [], timestamp: before + 1 });
  t.like(await f.repo.refresh({ snapshot: true }), { timestamp: before + 2 });
  await bothClientsDownload(t, f, ['team/tool']);
  t.is((await change(f.repo, [f.signers.targets], (e) => e.undelegate('team'), { publish: true })).result, 'targets');
  t.false(f.repo.targetsRoles().includes('team'));
  await t.throwsAsync(bothClientsDownload(t, f, ['team/tool']), { message: /no target team\/tool/ });
});

test('repo.json is input: its key URIs may not load a module nobody allowed, nor say where a PIN comes from', async (t) => {
  const f = await fixture(t);
  const module = markerModule(t);
  const file = join(f.repo.dir, '.keyward', 'repo.json');
  const original = readFileSync(file, 'utf8');
  const timestampUri = f.signers.timestamp.uri;
  const edited = (replacement: string) => writeFileSync(file, original.replace(JSON.stringify(timestampUri), JSON.stringify(replacement)));
  const before = f.repo.status().find((s) => s.role === 'timestamp')!.version;

  edited(`${timestampUri}?module-path=${module.path}`);
  const refused = await t.throwsAsync<KeywardError>(Repository.open(f.repo.dir, { keystore: f.dev.keystore }).refresh());
  t.is(refused?.code, 'MODULE_NOT_ALLOWED', refused?.message);
  t.false(module.loaded(), 'the module named in repo.json was never loaded');

  edited(`${timestampUri}?pin-source=file:/tmp/wrong-pin`);
  t.throws(() => Repository.open(f.repo.dir, { keystore: f.dev.keystore }).status(), {
    code: 'TUF_REPO_CONFIG_INVALID',
    message: /may not say where a PIN or key comes from/,
  });
  writeFileSync(file, original);
  t.is(f.repo.status().find((s) => s.role === 'timestamp')!.version, before, 'nothing was published meanwhile');
  t.like(await f.repo.refresh(), { timestamp: before + 1 }, 'the untouched file works as before');
});

test('an expiry beyond a century in repo.json is refused by name, not with "Invalid time value"', async (t) => {
  const f = await fixture(t);
  const file = join(f.repo.dir, '.keyward', 'repo.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...config, expiry: { ...config.expiry, timestamp: 1e15 } }));
  await t.throwsAsync(f.repo.refresh(), {
    code: 'TUF_REPO_CONFIG_INVALID',
    message: /"expiry\.timestamp" must be a whole number of days from 1 to 36500, not 1000000000000000/,
  });
});

test('threshold 0, thresholds no keys can meet and unservable role names are refused before anything is written', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  const delegate = (name: string, threshold: number) => stage(f.repo, (e) => e.delegate('targets', { name, keys: [key.key], threshold, paths: ['*'] }));
  await t.throwsAsync(delegate('zero', 0), { instanceOf: UsageError, message: /zero: threshold 0 refused/ });
  await t.throwsAsync(delegate('two', 2), { instanceOf: UsageError, message: /cannot be met by 1 key/ });
  await t.throwsAsync(
    stage(f.repo, (e) => e.rotate('root', { threshold: 0 })),
    { instanceOf: UsageError },
  );
  // Served as releases%2Fstable.json, which web servers look up as releases/stable.json: never found.
  await t.throwsAsync(delegate('releases/stable', 1), { code: 'TUF_ROLE_NAME', message: /role name "releases\/stable" cannot be served/ });
  await t.throwsAsync(delegate('my role', 1), { code: 'TUF_ROLE_NAME' });
  t.false(f.repo.hasStagedChanges());
});

/** What Keyward's client, from the first root, finds for `path` (undefined: the repository has no such target). */
async function keywardFinds(t: import('ava').ExecutionContext, f: Fixture, path: string) {
  const server = await staticServer(f.repo.publicDir);
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
  const made = await change(f.repo, [f.signers.targets], (e) => e.delegate('targets', { name: 'rel', keys: [key.key], threshold: 1, paths: ['rel/*'] }), {
    publish: true,
  });
  t.like(
    made.status.find((s) => s.role === 'rel'),
    { version: 1, staged: true, met: false },
  );
  t.is(made.published, undefined, 'the new role waits for its own key');
  t.like(await change(f.repo, [key], undefined, { publish: true }), {
    published: {
      published: [
        { role: 'targets', version: 2 },
        { role: 'rel', version: 1 },
      ],
    },
  });
  t.is(await keywardFinds(t, f, 'rel/x'), undefined);
});

test('a role delegated again after undelegate starts empty, above every published version of its name', async (t) => {
  const f = await fixture(t);
  const [a, b] = [await f.dev.softhsm('ed25519'), await f.dev.softhsm('ed25519')];
  await change(
    f.repo,
    [f.signers.targets, a],
    (e) => {
      e.delegate('targets', { name: 'team', keys: [a.key], threshold: 1, paths: ['team/*'] });
      addFile(e, 'team/evil');
    },
    { publish: true },
  );
  await change(f.repo, [f.signers.targets], (e) => e.undelegate('team'), { publish: true });
  await change(f.repo, [f.signers.targets, b], (e) => {
    e.delegate('targets', { name: 'team', keys: [b.key], threshold: 1, paths: ['team/*'] });
    addFile(e, 'team/good');
  });
  const team = f.repo.targets('team')!.signed;
  t.deepEqual(Object.keys(team.targets), ['team/good'], 'the old targets stay gone');
  t.is(team.version, 2, 'v1 was published under this name: clients would refuse another v1 as a rollback');
  await f.repo.publish();
  await bothClientsDownload(t, f, ['team/good']);
  t.is(await keywardFinds(t, f, 'team/evil'), undefined);
});

test('a change for a role nothing delegates to is refused; undelegate drops staged delegates; an orphan staged file is named', async (t) => {
  const f = await fixture(t);
  const info = targetFileOf(content('x'));
  await t.throwsAsync(
    stage(f.repo, (e) => e.addTarget('x', info, { role: 'typo' })),
    { code: 'TUF_ROLE_UNKNOWN' },
  );
  const key = await f.dev.softhsm('ed25519');
  await t.throwsAsync(
    stage(f.repo, (e) => e.delegate('nope', { name: 'sub', keys: [key.key], threshold: 1, paths: ['*'] })),
    {
      code: 'TUF_ROLE_UNKNOWN',
      message: /no role "nope"/,
    },
  );
  await t.throwsAsync(
    stage(f.repo, (e) => e.addTargets({ x: info }, 'typo')),
    { code: 'TUF_ROLE_UNKNOWN' },
  );
  t.false(f.repo.hasStagedChanges(), 'nothing was staged');

  await stage(f.repo, (e) => {
    e.delegate('targets', { name: 'A', keys: [key.key], threshold: 1, paths: ['a/*'] });
    e.delegate('A', { name: 'B', keys: [key.key], threshold: 1, paths: ['a/b/*'] });
  });
  await t.throwsAsync(
    stage(f.repo, (e) => e.addTarget('other/x', info, { role: 'A' })),
    {
      code: 'TUF_PATH_NOT_DELEGATED',
      message: /"other\/x" is not delegated to "A"/,
    },
  );
  await t.throwsAsync(
    stage(f.repo, (e) => e.addTarget('a/x', info, { role: 'B' })),
    { code: 'TUF_PATH_NOT_DELEGATED', message: /"a\/x" is not delegated to "B"/ },
  );
  await stage(f.repo, (e) => e.undelegate('A'));
  t.deepEqual(f.repo.stagedRoles().sort(), ['targets']);
  t.like(await change(f.repo, [f.signers.targets], undefined, { publish: true }), { published: { published: [{ role: 'targets', version: 2 }] } });

  writeFileSync(f.repo.workspace.stagedPath('ghost'), readFileSync(metadataPath(f.repo, '2.targets.json')));
  t.throws(() => f.repo.status(), { code: 'TUF_STAGED_ORPHAN', message: /staged\/ghost\.json stages role "ghost", which no role delegates to/ });
  await t.throwsAsync(change(f.repo, [f.signers.targets]), { code: 'TUF_STAGED_ORPHAN' });
});

test('staged metadata past its expiry is neither signed nor published', async (t) => {
  const f = await fixture(t);
  await stage(f.repo, (e) => addFile(e, 'file.txt'));
  const later = Repository.open(f.repo.dir, { keystore: f.dev.keystore, now: () => new Date(Date.now() + 91 * 86_400_000) });
  await t.throwsAsync(change(later, [f.signers.targets]), { code: 'TUF_STAGED_EXPIRED', message: /staged targets v2 expired at/ });
  await change(f.repo, [f.signers.targets]);
  await t.throwsAsync(later.publish(), { code: 'TUF_STAGED_EXPIRED' });
  await t.throwsAsync(later.refresh(), { code: 'TUF_STAGED_EXPIRED' });
  t.is(f.repo.status().find((s) => s.role === 'targets')!.version, 2);
  t.true(f.repo.hasStagedChanges(), 'nothing was published');
});

test('an edit gives the staged role a fresh expiry', async (t) => {
  const f = await fixture(t);
  await stage(f.repo, (e) => addFile(e, 'one'));
  const first = f.repo.targets('targets')!.signed.expires;
  const later = Repository.open(f.repo.dir, { keystore: f.dev.keystore, now: () => new Date(Date.now() + 30 * 86_400_000) });
  await stage(later, (e) => addFile(e, 'two'));
  t.true(Date.parse(later.targets('targets')!.signed.expires) > Date.parse(first));
});

test('a stray staged file name is refused by name, not with a URIError', async (t) => {
  const f = await fixture(t);
  writeFileSync(join(f.repo.dir, '.keyward', 'staged', 'bad%zz.json'), '{}');
  t.throws(() => f.repo.status(), { instanceOf: UsageError, code: 'TUF_STAGED_NAME', message: /bad%zz\.json/ });
});

test('hash bins are all or nothing: a clash with an existing role stages none', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('ed25519');
  await change(f.repo, [f.signers.targets, key], (e) => e.delegate('targets', { name: 'bins-c', keys: [key.key], threshold: 1, paths: ['c/*'] }), {
    publish: true,
  });
  await t.throwsAsync(
    stage(f.repo, (e) => e.hashBins('targets', 16, [key.key], 1)),
    { instanceOf: ConflictError, message: /"bins-c" already exists/ },
  );
  t.false(f.repo.hasStagedChanges());
});

// ── what you sign is what you see ──────────────────────────────────────────────────────────────

/** Someone who can write the directory, and holds no key, plants a staged targets v2 of their own. */
function plantStagedTargets(f: Fixture, edit: (targets: Record<string, unknown>, signed: Record<string, unknown>) => void): void {
  const published = JSON.parse(readFileSync(metadataPath(f.repo, '1.targets.json'), 'utf8'));
  published.signed.version = 2;
  edit(published.signed.targets, published.signed);
  writeFileSync(f.repo.workspace.stagedPath('targets'), JSON.stringify({ signed: published.signed, signatures: [] }));
}

test('content planted in .keyward/staged is never signed unseen: shown for approval, or refused, and nothing changes', async (t) => {
  const f = await fixture(t);
  plantStagedTargets(f, (targets) => (targets['releases/evil.sh'] = { length: 6, hashes: { sha256: 'e'.repeat(64) } }));
  const planted = readFileSync(f.repo.workspace.stagedPath('targets'));
  const mine = (e: RepositoryEdits) => addFile(e, 'releases/app.tgz');

  // A library caller that gives no approval: refused.
  await t.throwsAsync(f.repo.change({ edit: mine, signers: [f.signers.targets] }), { code: 'TUF_UNREVIEWED' });
  // The signer is shown the planted target, not their own, and says no.
  const shown: Review[] = [];
  const declined = f.repo.change({
    edit: mine,
    signers: [f.signers.targets],
    approve: (review) => {
      shown.push(review);
      throw new Error('no');
    },
  });
  await t.throwsAsync(declined, { message: 'no' });
  t.deepEqual(
    shown.map((r) => r.roles),
    [[{ role: 'targets', version: 2, changes: [`+ targets["releases/evil.sh"]: {"length":6,"hashes":{"sha256":"${'e'.repeat(64)}"}}`] }]],
  );
  t.regex(shown[0]!.digest, /^sha256:[0-9a-f]{64}$/);
  t.is(shown[0]!.digest, f.repo.stagedChanges().digest, 'the digest trust repo status shows');
  t.deepEqual(readFileSync(f.repo.workspace.stagedPath('targets')), planted, 'the staged file is as it was');
  t.false(existsSync(join(f.repo.publicDir, 'targets', 'releases')), 'no target file was stored');
  t.is(f.repo.status().find((s) => s.role === 'timestamp')!.version, 1, 'nothing was published');
});

test('--expect signs staged content only when it is what was reviewed', async (t) => {
  const f = await fixture(t);
  const { checkExpected } = await import('../../src/trust/repository/review.js');
  plantStagedTargets(f, (targets) => (targets['a'] = { length: 1, hashes: { sha256: 'a'.repeat(64) } }));
  const reviewed = f.repo.stagedChanges();
  t.deepEqual(reviewed.roles, [{ role: 'targets', version: 2, changes: [`+ targets.a: {"length":1,"hashes":{"sha256":"${'a'.repeat(64)}"}}`] }]);
  // Changed after the review: another target slipped in.
  plantStagedTargets(f, (targets) => {
    targets['a'] = { length: 1, hashes: { sha256: 'a'.repeat(64) } };
    targets['b'] = { length: 1, hashes: { sha256: 'b'.repeat(64) } };
  });
  const expect = (review: Review) => checkExpected(review, reviewed.digest);
  await t.throwsAsync(f.repo.change({ signers: [f.signers.targets], approve: expect }), { code: 'TUF_STAGED_CHANGED' });
  plantStagedTargets(f, (targets) => (targets['a'] = { length: 1, hashes: { sha256: 'a'.repeat(64) } }));
  const signed = await f.repo.change({ signers: [f.signers.targets], approve: expect });
  t.deepEqual(signed.review?.digest, reviewed.digest);
  t.like(signed.published, { published: [{ role: 'targets', version: 2 }] });
});

test('a staged file that is not the next version of its role, or expires past the policy, is refused with its name', async (t) => {
  const f = await fixture(t);
  plantStagedTargets(f, () => undefined);
  const file = f.repo.workspace.stagedPath('targets');
  const planted = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...planted, signed: { ...planted.signed, version: 7 } }));
  t.throws(() => f.repo.status(), {
    code: 'TUF_STAGED_INVALID',
    message: new RegExp(`^${file} is not a staged change Keyward can sign: .*version 7; the next version of targets is 2`),
  });
  writeFileSync(file, JSON.stringify({ ...planted, signed: { ...planted.signed, expires: '2999-01-01T00:00:00Z' } }));
  t.throws(() => f.repo.status(), {
    code: 'TUF_STAGED_INVALID',
    message: /expires at 2999-01-01T00:00:00Z, later than the repository's policy allows \(90 days\)/,
  });
  writeFileSync(file, '{"signed": 1}');
  await t.throwsAsync(
    change(f.repo, [f.signers.targets], (e) => addFile(e, 'x')),
    { code: 'TUF_STAGED_INVALID', message: /staged\/targets\.json/ },
  );
  t.deepEqual(await f.repo.discard(['targets']), ['targets'], 'discard drops it');
});

test('co-signing adds: a second key holder signing the same target keeps the first signature', async (t) => {
  const f = await fixture(t);
  const [alice, bob] = [await f.dev.softhsm('p256'), await f.dev.softhsm('ed25519')];
  await change(
    f.repo,
    [f.signers.targets, alice, bob],
    (e) => e.delegate('targets', { name: 'releases', keys: [alice.key, bob.key], threshold: 2, paths: ['releases/*'] }),
    { publish: true },
  );
  const release = (e: RepositoryEdits) => addFile(e, 'releases/app-1.0.tgz');
  const first = await f.repo.change({ edit: release, signers: [alice], roles: ['releases'] });
  t.is(first.published, undefined);
  // Bob adds the very same release: nothing for him to review, and Alice's signature stays.
  const second = await f.repo.change({ edit: release, signers: [bob], roles: ['releases'] });
  t.is(second.review, undefined);
  t.like(second.published, { published: [{ role: 'releases', version: 2 }] });
  await bothClientsDownload(t, f, ['releases/app-1.0.tgz']);
});

test('succinct hash bins (TAP 15, as python-tuf writes them): the writer signs into their bins and publishes; clients find the targets', async (t) => {
  const f = await fixture(t);
  const binKey = await f.dev.softhsm('ed25519');
  // Keyward does not make succinct delegations, but keeps a repository that has them.
  plantStagedTargets(f, (_targets, signed) => {
    signed.delegations = {
      keys: { [binKey.keyid]: binKey.key },
      succinct_roles: { keyids: [binKey.keyid], threshold: 1, bit_length: 4, name_prefix: 'bin' },
    };
  });
  await change(f.repo, [f.signers.targets], undefined, { publish: true });
  const paths = ['packages/a.whl', 'packages/b.whl', 'packages/c.whl'];
  const bins = paths.map((path) => f.repo.responsibleRole(path));
  t.true(
    bins.every((bin) => /^bin-[0-9a-f]$/.test(bin)),
    bins.join(', '),
  );
  const made = await change(f.repo, [binKey], (e) => paths.forEach((path) => addFile(e, path)), { publish: true });
  t.deepEqual(made.published?.published.map((p) => p.role).sort(), [...new Set(bins)].sort());
  t.true(bins.every((bin) => f.repo.targetsRoles().includes(bin)));
  await t.throwsAsync(
    stage(f.repo, (e) => e.delegate('targets', { name: 'more', keys: [binKey.key], threshold: 1, paths: ['x/*'] })),
    { code: 'TUF_DELEGATION_SCOPE', message: /targets delegates to succinct hash bins/ },
  );
  await bothClientsDownload(t, f, paths);
});

test('a staged file a publication left behind (the writer killed after publishing, or read mid-publication) is not staged, and goes with the next writer', async (t) => {
  const f = await fixture(t);
  await change(f.repo, [f.signers.targets], (e) => addFile(e, 'one'), { publish: true });
  // What a writer killed between publishing targets v2 and unstaging it leaves.
  writeFileSync(f.repo.workspace.stagedPath('targets'), readFileSync(metadataPath(f.repo, '2.targets.json')));
  t.false(f.repo.hasStagedChanges());
  t.like(
    f.repo.status().find((s) => s.role === 'targets'),
    { version: 2, staged: false },
  );
  await change(f.repo, [f.signers.targets], (e) => addFile(e, 'two'), { publish: true });
  t.like(
    f.repo.status().find((s) => s.role === 'targets'),
    { version: 3, staged: false },
  );
  t.false(existsSync(f.repo.workspace.stagedPath('targets')), 'removed by the next writer');
  await bothClientsDownload(t, f, ['one', 'two']);
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
  const timestamp = readFileSync(metadataPath(f.repo, 'timestamp.json'));
  const link = metadataPath(f.repo, '2.snapshot.json');
  symlinkSync(out.victim, link);
  await refusesLink(t, () => f.repo.refresh({ snapshot: true }), link, 'a link to a file');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);
  t.true(lstatSync(link).isSymbolicLink(), 'the link stays: it is evidence');
  t.deepEqual(readFileSync(metadataPath(f.repo, 'timestamp.json')), timestamp, 'no timestamp for a snapshot never written');

  rmSync(link);
  symlinkSync(join(out.dir, 'created'), link);
  await refusesLink(t, () => f.repo.refresh({ snapshot: true }), link, 'a dangling link');
  t.deepEqual(readdirSync(out.dir), ['victim'], 'nothing created where it points');

  // timestamp.json is read as well as written: a link there is refused, never followed.
  const ts = metadataPath(f.repo, 'timestamp.json');
  rmSync(link);
  rmSync(ts);
  symlinkSync(out.victim, ts);
  await refusesLink(t, () => f.repo.refresh(), ts, 'timestamp.json a link');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);
});

test('targets/<dir> linked to a directory outside: the release is refused, nothing lands outside', async (t) => {
  const f = await fixture(t);
  const out = outside(t);
  const link = join(f.repo.publicDir, 'targets', 'releases');
  symlinkSync(out.dir, link);
  await refusesLink(t, () => change(f.repo, [f.signers.targets], (e) => addFile(e, 'releases/app-1.0.tar.gz')), link, 'a linked targets directory');
  t.deepEqual(readdirSync(out.dir), ['victim']);
  t.false(f.repo.hasStagedChanges(), 'the release is not staged without its file');
});

test('a link inside .keyward/staged (a staged role, or the directory itself): refused, its target untouched', async (t) => {
  const f = await fixture(t);
  const out = outside(t);
  const staged = join(f.repo.dir, '.keyward', 'staged');
  const link = join(staged, 'targets.json');
  symlinkSync(out.victim, link);
  const info = targetFileOf(content('x'));
  await refusesLink(t, () => stage(f.repo, (e) => e.addTarget('x', info)), link, 'a staged role linked to a file');
  await refusesLink(t, () => f.repo.status(), link, 'reading it');
  t.is(readFileSync(out.victim, 'utf8'), VICTIM);

  rmSync(staged, { recursive: true });
  symlinkSync(out.dir, staged);
  await refusesLink(t, () => stage(f.repo, (e) => e.addTarget('x', info)), staged, 'the staged directory a link');
  t.deepEqual(readdirSync(out.dir), ['victim']);
  // The lock is made in .keyward/ too: a link there is refused before any writer works.
  rmSync(staged);
  mkdirSync(staged);
  const lock = join(f.repo.dir, '.keyward', 'lock');
  symlinkSync(join(out.dir, 'lock'), lock);
  await refusesLink(t, () => f.repo.exclusive(() => undefined), lock, 'the lock a dangling link');
  t.deepEqual(readdirSync(out.dir), ['victim']);
});

// ── one writer at a time ───────────────────────────────────────────────────────────────────────

/** What one of many writers at once does: add a target, sign it, publish, through its own Repository. */
async function addSignPublish(f: Fixture, path: string): Promise<void> {
  await change(Repository.open(f.repo.dir, { keystore: f.dev.keystore }), [f.signers.targets], (e) => addFile(e, path), { publish: true });
}

test('writers at once: each waits for the one before, and every target is published', async (t) => {
  const f = await fixture(t);
  const paths = Array.from({ length: 6 }, (_, i) => `w${i}/file`);
  await Promise.all(paths.map((path) => addSignPublish(f, path)));
  t.deepEqual(Object.keys(Repository.open(f.repo.dir).targets('targets')!.signed.targets).sort(), paths);
  t.false(existsSync(join(f.repo.dir, '.keyward', 'lock')), 'the lock is gone once all are done');
  await bothClientsDownload(t, f, paths);
});

test('a writer that may not wait is refused, naming who holds the repository; another waits, saying so, and goes on', async (t) => {
  const f = await fixture(t);
  let release!: () => void;
  const held = f.repo.exclusive(() => new Promise<void>((resolve) => (release = resolve)));
  const impatient = Repository.open(f.repo.dir, { keystore: f.dev.keystore, lock: { waitMs: 0 } });
  const busy = await t.throwsAsync(
    impatient.exclusive(() => 'never'),
    { instanceOf: ConflictError },
  );
  t.is(busy?.code, 'TUF_REPO_BUSY');
  t.regex(busy!.message, new RegExp(`^repository ${f.repo.dir} is busy: process ${process.pid} holds it since \\d{4}-\\d\\d-\\d\\dT`));
  t.regex(busy!.hint!, /remove .*\.keyward\/lock/);
  const waited: string[] = [];
  const ran: string[] = [];
  const patient = Repository.open(f.repo.dir, { keystore: f.dev.keystore, lock: { waitMs: 10_000, onWait: (holder) => waited.push(String(holder?.pid)) } });
  const later = patient.exclusive(() => (ran.push('second writer'), 'done'));
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(ran, [], 'the second writer has not run while the first holds the repository');
  release();
  await held;
  t.is(await later, 'done');
  t.deepEqual(waited, [String(process.pid)], 'told once that it waits, and for whom');
});

test('a lock left by a process that is gone is taken over; one from another host is not', async (t) => {
  const f = await fixture(t);
  const repo = Repository.open(f.repo.dir, { keystore: f.dev.keystore, lock: { waitMs: 0 } });
  const lock = join(f.repo.dir, '.keyward', 'lock');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // ran and exited: its pid runs nothing of its own now
  writeFileSync(lock, JSON.stringify({ pid: gone, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
  t.is(await repo.exclusive(() => 'taken over'), 'taken over');
  t.false(existsSync(lock));
  // A reused pid: this very process, but started at another time than the lock says.
  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', started: '1' }));
  t.is(await repo.exclusive(() => 'pid reused'), 'pid reused');
  writeFileSync(lock, JSON.stringify({ pid: gone, host: 'elsewhere.example', since: '2026-01-01T00:00:00.000Z' }));
  await t.throwsAsync(
    repo.exclusive(() => 'never'),
    { code: 'TUF_REPO_BUSY', message: /process \d+ on elsewhere\.example holds it/ },
  );
});

// ── discard, upgrade ───────────────────────────────────────────────────────────────────────────

test('discard drops the named roles (and delegates they alone reached), or every staged change', async (t) => {
  const f = await fixture(t);
  const key = await f.dev.softhsm('p256');
  await stage(f.repo, (e) => {
    e.delegate('targets', { name: 'releases', keys: [key.key], threshold: 1, paths: ['releases/*'] });
    addFile(e, 'README');
  });
  t.deepEqual(f.repo.stagedRoles().sort(), ['releases', 'targets']);
  await t.throwsAsync(f.repo.discard(['root']), { code: 'TUF_NOTHING_STAGED', message: /nothing is staged for "root"; staged: / });
  t.deepEqual(f.repo.stagedRoles().sort(), ['releases', 'targets'], 'a refused discard drops nothing');
  // Targets held the delegation: without it "releases" could never be published, so it goes too.
  t.deepEqual(await f.repo.discard(['targets']), ['targets', 'releases']);
  t.false(f.repo.hasStagedChanges());
  await t.throwsAsync(f.repo.discard(), { code: 'TUF_NOTHING_STAGED' });
  await stage(f.repo, (e) => addFile(e, 'README'));
  t.deepEqual(await f.repo.discard(), ['targets']);
  t.deepEqual(
    f.repo.status().map((s) => `${s.role} v${s.version} ${s.staged}`),
    ['root v1 false', 'targets v1 false', 'snapshot v1 false', 'timestamp v1 false'],
  );
});

test('a repository of the earlier layout is refused with the way out; upgrade moves what is served into public/', async (t) => {
  const f = await fixture(t);
  const file = join(f.repo.dir, '.keyward', 'repo.json');
  // What an earlier Keyward left: format 1, metadata/ and targets/ beside .keyward/.
  await change(f.repo, [f.signers.targets], (e) => addFile(e, 'docs/a'), { publish: true });
  for (const dir of ['metadata', 'targets']) renameSync(join(f.repo.publicDir, dir), join(f.repo.dir, dir));
  rmSync(f.repo.publicDir, { recursive: true });
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), format: 1 }));
  t.throws(() => Repository.open(f.repo.dir), { code: 'TUF_REPO_FORMAT', message: /made by an earlier Keyward/, instanceOf: UsageError });
  t.true(await Repository.upgrade(f.repo.dir));
  t.false(await Repository.upgrade(f.repo.dir), 'once is enough');
  t.deepEqual(readdirSync(f.repo.dir).sort(), ['.keyward', 'public']);
  await bothClientsDownload(t, f, ['docs/a']);
});
