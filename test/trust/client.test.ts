/**
 * Keyward's TUF client against repositories it did not write (a tuf-on-ci fixture, @tufjs/models),
 * served by a plain HTTP server on 127.0.0.1: the whole workflow, and every refusal with the role
 * and the reason, leaving the trusted metadata as it was.
 */
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { SuccinctRoles } from '@tufjs/models/dist/role.js'; // not in the package's index; the class python-tuf's SuccinctRoles mirrors
import { createHash, sign } from 'node:crypto';
import { canonicalize as tufjsCanonicalize } from '@tufjs/canonical-json';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpFetcher } from '../../src/trust/client/fetcher.js';
import { initClient, targetFile, Updater } from '../../src/trust/client/updater.js';
import { quote } from '../../src/trust/file-names.js';
import { TrustedSet } from '../../src/trust/client/trusted-set.js';
import { TrustError, type TrustFailure } from '../../src/trust/errors.js';
import { keyward } from '../harness/run.js';
import { fixtureRepositories, staticServer, trustClientArgs, type StaticServer } from '../harness/tuf.js';
import { tempDir } from '../harness/temp.js';
import { inDays, ModelsRepository, signRaw, signWithModels, testKey } from '../harness/tuf-models-repository.js';

/** Every file of a directory and its bytes: what "left as it was" compares. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

interface Client {
  metadataDir: string;
  targetDir: string;
  updater(time?: Date): Updater;
}

function client(t: ExecutionContext, server: StaticServer, root: Buffer): Client {
  const metadataDir = tempDir(t, 'keyward-tuf-client-');
  initClient(metadataDir, root);
  const targetDir = tempDir(t, 'keyward-tuf-targets-');
  return {
    metadataDir,
    targetDir,
    updater: (time) => new Updater({ metadataDir, metadataUrl: `${server.url}/metadata`, targetBaseUrl: `${server.url}/targets`, time }),
  };
}

/** The repository over HTTP, closed when the test ends however it ends (an open server keeps ava's worker alive). */
async function served(t: ExecutionContext, repo: ModelsRepository): Promise<StaticServer> {
  const server = await staticServer(repo.dir);
  t.teardown(() => server.close());
  return server;
}

/** A fresh @tufjs/models repository, served, and a client that trusts its first root. */
async function started(t: ExecutionContext): Promise<{ repo: ModelsRepository; server: StaticServer; c: Client }> {
  const repo = new ModelsRepository(t);
  const server = await served(t, repo);
  return { repo, server, c: client(t, server, repo.initialRoot) };
}

/**
 * Asserts a refusal naming `role` and `failure`, and that the refused role's trusted copy did not
 * change (roles verified before it in the same refresh are persisted, as spec §5.3.8, §5.4.5 say).
 */
async function refused(
  t: import('ava').ExecutionContext,
  c: Client,
  work: () => Promise<unknown>,
  role: string,
  failure: TrustFailure,
  message?: RegExp,
): Promise<TrustError> {
  const before = contents(c.metadataDir);
  const error = await t.throwsAsync(work(), { instanceOf: TrustError });
  t.is(error.role, role, error.message);
  t.is(error.failure, failure, error.message);
  t.true(error.message.startsWith(`${role}: `));
  if (message) t.regex(error.message, message);
  t.is(contents(c.metadataDir)[`${role}.json`], before[`${role}.json`], `the trusted ${role}.json is left as it was`);
  return error;
}

test('the fixture repositories: refresh at their faketime and download their target, through the CLI protocol', async (t) => {
  for (const repo of fixtureRepositories()) {
    const server = await staticServer(repo.dir);
    t.teardown(() => server.close());
    const work = tempDir(t, 'keyward-tuf-cli-');
    const client = trustClientArgs(work, server.url, repo.time);
    writeFileSync(join(work, 'root.json'), repo.initialRoot);
    t.is((await keyward(client.init(join(work, 'root.json')))).code, 0);
    const refresh = await keyward(client.refresh());
    t.is(refresh.code, 0, refresh.stderr);
    const download = await keyward(client.download(repo.targetPath, '--json'));
    t.is(download.code, 0, download.stderr);
    const [result] = JSON.parse(download.stdout);
    const bytes = readFileSync(result.file);
    t.is(createHash('sha256').update(bytes).digest('hex'), result.hashes.sha256);
    t.true(
      readdirSync(join(repo.dir, 'targets'), { recursive: true, encoding: 'utf8' }).some((f) =>
        f.endsWith(`${result.hashes.sha256}.${repo.targetPath.split('/').pop()}`),
      ),
    );
    t.deepEqual(readdirSync(join(work, 'metadata')).sort(), ['delegatedrole.json', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    // Requested again: served from the cache of verified targets, no download.
    const requests = server.requests.length;
    t.is((await keyward(client.download(repo.targetPath))).code, 0);
    t.false(
      server.requests.slice(requests).some((p) => p.startsWith('/targets/')),
      'the verified copy is reused',
    );
    // The same repository judged after it expired: refused, naming the role.
    const lateClient = trustClientArgs(join(work, 'late'), server.url, new Date('2099-01-01T00:00:00Z'));
    const late = await keyward(lateClient.init(join(work, 'root.json'))).then(() => keyward(lateClient.refresh()));
    t.is(late.code, 1);
    t.regex(late.stderr, /keyward: root: expired on /);
    await server.close();
  }
});

test('the fixture repositories: one changed byte of any signed metadata makes the client fail, exit code 1', async (t) => {
  for (const repo of fixtureRepositories()) {
    for (const file of readdirSync(join(repo.dir, 'metadata')).filter((f) => f.endsWith('.json'))) {
      const copy = tempDir(t, 'keyward-tuf-tampered-');
      cpSync(repo.dir, copy, { recursive: true });
      const path = join(copy, 'metadata', file);
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      doc.signed.expires = doc.signed.expires.replace(/^(\d{3})\d/, (_: string, century: string) => `${century}${doc.signed.expires[3] === '9' ? '8' : '9'}`); // one digit of the year
      writeFileSync(path, JSON.stringify(doc, null, 1));
      const server = await staticServer(copy);
      t.teardown(() => server.close());
      const work = tempDir(t, 'keyward-tuf-cli-');
      const client = trustClientArgs(work, server.url, repo.time);
      writeFileSync(join(work, 'root.json'), file.endsWith('root.json') ? readFileSync(path) : repo.initialRoot);
      await keyward(client.init(join(work, 'root.json')));
      const result = await keyward(client.download(repo.targetPath));
      t.is(result.code, 1, `${file} changed: ${result.stderr}`);
      t.regex(result.stderr, /keyward: (root|timestamp|snapshot|targets|delegatedrole): /, file);
      await server.close();
    }
  }
});

test('init never replaces a root the client already trusts: trust moves only by signed rotations', async (t) => {
  const [trusted, other] = [new ModelsRepository(t), new ModelsRepository(t)];
  const metadataDir = tempDir(t, 'keyward-tuf-client-');
  initClient(metadataDir, trusted.initialRoot);
  const before = contents(metadataDir);
  t.throws(() => initClient(metadataDir, other.initialRoot), { code: 'TUF_CLIENT_INITIALISED', message: /already trusts another root/ });
  t.deepEqual(contents(metadataDir), before, 'the trusted root is left as it was');
  t.notThrows(() => initClient(metadataDir, trusted.initialRoot), 'the same root again is no change');
});

test('a repository written by @tufjs/models: refresh, delegation, download', async (t) => {
  const repo = new ModelsRepository(t);
  repo.addTarget('docs/readme.txt', Buffer.from('hello from a repository written by @tufjs/models\n'));
  repo.delegate('targets', { name: 'releases', paths: ['releases/*'] });
  repo.addTarget('releases/app-1.0.tar.gz', Buffer.from('app 1.0'), 'releases');
  repo.publish('targets', 'releases');
  const server = await served(t, repo);
  const c = client(t, server, repo.initialRoot);
  const updater = c.updater();
  t.like(await updater.refresh(), { root: 1, timestamp: 2, snapshot: 2, targets: 2, consistentSnapshot: true });
  const top = await updater.downloadTarget('docs/readme.txt', c.targetDir);
  t.is(readFileSync(top.file, 'utf8'), 'hello from a repository written by @tufjs/models\n');
  const delegated = await updater.downloadTarget('releases/app-1.0.tar.gz', c.targetDir);
  t.is(delegated.target.role, 'releases');
  t.is(await updater.findTarget('releases/missing'), undefined);
  await server.close();
});

test('delegation search: pre-order, a terminating delegation ends it, paths must match, hash prefixes select bins', async (t) => {
  const repo = new ModelsRepository(t);
  repo.delegate('targets', { name: 'a', paths: ['pkg/*'], terminating: true });
  repo.delegate('targets', { name: 'b', paths: ['pkg/*'] });
  repo.delegate('a', { name: 'a-child', paths: ['pkg/x*'] });
  repo.delegate('targets', { name: 'bin-0', path_hash_prefixes: ['0', '1', '2', '3', '4', '5', '6', '7'] });
  repo.delegate('targets', { name: 'bin-1', path_hash_prefixes: ['8', '9', 'a', 'b', 'c', 'd', 'e', 'f'] });
  repo.addTarget('pkg/xyz', Buffer.from('from a-child'), 'a-child');
  repo.addTarget('pkg/only-in-b', Buffer.from('from b'), 'b');
  repo.addTarget('pkg/out-of-paths', Buffer.from('a-child may not say this'), 'a-child');
  const binned = createHash('sha256').update('bins/file').digest('hex')[0]! < '8' ? 'bin-0' : 'bin-1';
  repo.addTarget('bins/file', Buffer.from('binned'), binned);
  repo.publish('targets', 'a', 'b', 'a-child', 'bin-0', 'bin-1');
  const server = await served(t, repo);
  const c = client(t, server, repo.initialRoot);
  const updater = c.updater();
  t.is((await updater.findTarget('pkg/xyz'))?.role, 'a-child', 'a, then its child, before b');
  t.is(await updater.findTarget('pkg/only-in-b'), undefined, 'a is terminating: b is never asked');
  t.is(await updater.findTarget('pkg/out-of-paths'), undefined, 'a-child is trusted only for pkg/x*');
  t.is((await updater.findTarget('bins/file'))?.role, binned);
  t.false(
    server.requests.some((p) => p.includes('.b.json')),
    'b was never fetched',
  );
  await server.close();
});

test('succinct hash-bin delegations (TAP 15) written by @tufjs/models: the target is found in its bin, named as tuf-js names it', async (t) => {
  const repo = new ModelsRepository(t);
  const succinct = new SuccinctRoles({ keyIDs: [], threshold: 1, bitLength: 5, namePrefix: 'bin' });
  // A path in a bin below 0x10, so that the zero padding of the name ("bin-0a") is exercised.
  const path = Array.from({ length: 200 }, (_, i) => `pkg/file-${i}.tar.gz`).find((p) => parseInt(succinct.getRoleForTarget(p).slice(4), 16) < 16)!;
  const bin = succinct.getRoleForTarget(path);
  t.regex(bin, /^bin-0[0-9a-f]$/);
  repo.delegateSuccinct('targets', { bit_length: 5, name_prefix: 'bin' }, [bin]);
  repo.addTarget(path, Buffer.from('in a bin'), bin);
  repo.publish('targets', bin);
  t.truthy(JSON.parse(readFileSync(join(repo.dir, 'metadata', '2.targets.json'), 'utf8')).signed.delegations.succinct_roles);
  const server = await served(t, repo);
  const c = client(t, server, repo.initialRoot);
  const found = await c.updater().findTarget(path);
  t.is(found?.role, bin);
  const { file } = await c.updater().downloadTarget(path, c.targetDir);
  t.is(readFileSync(file, 'utf8'), 'in a bin');
  // A path of another bin: that bin is asked for, and the snapshot does not list it.
  const other = Array.from({ length: 200 }, (_, i) => `other-${i}`).find((p) => succinct.getRoleForTarget(p) !== bin)!;
  await refused(t, c, () => c.updater().findTarget(other), succinct.getRoleForTarget(other), 'not-found', /the snapshot does not list/);
  await server.close();
});

test('malformed succinct_roles are refused with the role and the reason', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['bit_length 0', { bit_length: 0 }, /bit_length must be an integer from 1 to 32, not 0/],
    ['bit_length 33', { bit_length: 33 }, /bit_length must be an integer from 1 to 32, not 33/],
    ['no bit_length', { bit_length: undefined }, /bit_length must be an integer from 1 to 32, not absent/],
    ['no name_prefix', { name_prefix: undefined }, /name_prefix must be a string/],
    ['threshold 0', { threshold: 0 }, /threshold 0/],
    ['roles as well', { roles: [] }, /both roles and succinct_roles/],
  ];
  for (const [label, change, reason] of cases) {
    const { repo, server, c } = await started(t);
    repo.delegateSuccinct('targets', { bit_length: 4, name_prefix: 'bin' }, []);
    const delegations = repo.targets.get('targets')!.delegations;
    const { roles, ...succinctChange } = change;
    Object.assign(delegations.succinct_roles, succinctChange);
    for (const key in succinctChange) if (succinctChange[key] === undefined) delete delegations.succinct_roles[key];
    if (roles) delegations.roles = roles;
    repo.targets.get('targets')!.version = 2;
    repo.snapshot.meta['targets.json'] = { version: 2 };
    repo.writeTargets('targets', signRaw(repo.targets.get('targets')!, repo.signers.targets!));
    repo.publish();
    const failure = label === 'threshold 0' ? 'threshold' : 'malformed';
    await refused(t, c, () => c.updater().refresh(), 'targets', failure, reason);
    await server.close();
  }
});

/**
 * Signed metadata with integers beyond 2^53, as python-tuf writes them: a placeholder number is put
 * in, @tufjs/canonical-json canonicalizes, and the placeholder's digits are replaced by the big ones
 * in the bytes signed and in the file, so no code under test makes the bytes.
 */
function signBig(signed: Record<string, unknown>, signers: ReturnType<typeof testKey>[], big: Record<string, string>): Buffer {
  const swap = (text: string) => Object.entries(big).reduce((out, [placeholder, digits]) => out.replaceAll(placeholder, digits), text);
  const data = Buffer.from(swap(tufjsCanonicalize(signed)));
  const signatures = signers.map((k) => ({ keyid: k.keyid, sig: sign(null, data, k.privateKey).toString('hex') }));
  return Buffer.from(swap(JSON.stringify({ signatures, signed }, null, 1)));
}

test('integers beyond 2^53 (a version, a target length) verify and are read exactly, as bigints', async (t) => {
  const { repo, server, c } = await started(t);
  const big = '9007199254740993'; // 2^53 + 1: JSON.parse reads 9007199254740992
  repo.targets.get('targets')!.version = 2;
  repo.targets.get('targets')!.targets['huge.iso'] = { length: 4_000_000_001, hashes: { sha256: 'ab'.repeat(32) } };
  repo.writeTargets('targets', signBig(repo.targets.get('targets')!, repo.signers.targets!, { '4000000001': big }));
  repo.snapshot.meta['targets.json'] = { version: 2 };
  repo.snapshot.version = 2;
  repo.writeSnapshot();
  repo.timestamp.version = 4_000_000_002;
  repo.timestamp.meta['snapshot.json'] = { version: 2 };
  repo.writeTimestamp(signBig(repo.timestamp, repo.signers.timestamp!, { '4000000002': big }));
  t.like(await c.updater().refresh(), { timestamp: BigInt(big), snapshot: 2, targets: 2 });
  const found = await c.updater().findTarget('huge.iso');
  t.is(found?.info.length as unknown, BigInt(big));
  t.true(readFileSync(join(c.metadataDir, 'timestamp.json'), 'utf8').includes(big), 'stored as served');
  // The stored copy verifies again at the next refresh, and guards against rollback with its exact version.
  t.like(await c.updater().refresh(), { timestamp: BigInt(big) });
  repo.timestamp.version = 4_000_000_002;
  repo.writeTimestamp(signBig(repo.timestamp, repo.signers.timestamp!, { '4000000002': '9007199254740992' }));
  await refused(t, c, () => c.updater().refresh(), 'timestamp', 'rollback', /version 9007199254740992 is older than the trusted version 9007199254740993/);
  await server.close();
});

test('root rotation: each new root signed by the old threshold and its own; a rotation without the old keys is refused', async (t) => {
  const { repo, server, c } = await started(t);
  await c.updater().refresh();
  // v2: new root key, signed by old and new.
  const oldKeys = repo.signers.root!;
  const newKey = testKey();
  repo.root.version = 2;
  repo.root.keys[newKey.keyid] = newKey.json;
  repo.root.roles.root = { keyids: [newKey.keyid], threshold: 1 };
  repo.signers.root = [newKey];
  repo.writeRoot(oldKeys);
  t.is((await c.updater().refresh()).root, 2);
  // v3 signed only by a key v2 does not trust.
  const stranger = testKey();
  repo.root.version = 3;
  repo.root.keys[stranger.keyid] = stranger.json;
  repo.root.roles.root = { keyids: [stranger.keyid], threshold: 1 };
  repo.signers.root = [stranger];
  repo.writeRoot();
  await refused(t, c, () => c.updater().refresh(), 'root', 'threshold', /0 valid signatures from the keys of the trusted root v2, 1 required/);
  await server.close();
});

test('a root that skips a version, or repeats one, is a rollback', async (t) => {
  const { repo, server, c } = await started(t);
  repo.root.version = 3;
  repo.write('2.root.json', signWithModels(repo.root, repo.signers.root!));
  await refused(t, c, () => c.updater().refresh(), 'root', 'rollback', /expected version 2, got 3/);
  await server.close();
});

test('tampered metadata and a signature below threshold are refused', async (t) => {
  const { repo, server, c } = await started(t);
  await c.updater().refresh();
  const tampered = JSON.parse(repo.writeTimestamp().toString());
  tampered.signed.version = 7;
  repo.write('timestamp.json', Buffer.from(JSON.stringify(tampered)));
  await refused(t, c, () => c.updater().refresh(), 'timestamp', 'threshold', /0 valid signatures from the timestamp keys, 1 required/);
  // targets needs 2 of 2 keys; only one signs.
  const second = testKey();
  repo.root.version = 2;
  repo.root.keys[second.keyid] = second.json;
  repo.root.roles.targets = { keyids: [repo.signers.targets![0]!.keyid, second.keyid], threshold: 2 };
  repo.writeRoot();
  repo.publish('targets');
  await refused(t, c, () => c.updater().refresh(), 'targets', 'threshold', /1 valid signature from the targets keys, 2 required/);
  repo.signers.targets!.push(second);
  repo.publish('targets');
  t.is((await c.updater().refresh()).targets, 3);
  await server.close();
});

test('threshold 0 and duplicate signatures are refused even when signed by the right keys', async (t) => {
  const { repo, server, c } = await started(t);
  repo.root.version = 2;
  repo.root.roles.timestamp = { ...repo.root.roles.timestamp, threshold: 0 };
  repo.writeRoot([], signRaw(repo.root, repo.signers.root!));
  await refused(t, c, () => c.updater().refresh(), 'root', 'threshold', /threshold 0/);
  repo.root.roles.timestamp.threshold = 1;
  const duplicated = JSON.parse(signWithModels(repo.root, repo.signers.root!).toString());
  duplicated.signatures.push(duplicated.signatures[0]);
  repo.write('2.root.json', Buffer.from(JSON.stringify(duplicated)));
  await refused(t, c, () => c.updater().refresh(), 'root', 'malformed', /more than once/);
  await server.close();
});

test('expired metadata is refused, naming the role; a frozen timestamp is refused once it expires', async (t) => {
  const { repo, server, c } = await started(t);
  await c.updater().refresh();
  // The repository stops updating: the timestamp the client trusts expires and no newer one comes.
  await refused(t, c, () => c.updater(new Date(Date.now() + 2 * 86_400_000)).refresh(), 'timestamp', 'expired', /expired on/);
  repo.snapshot.expires = inDays(-1);
  repo.publish();
  await refused(t, c, () => c.updater().refresh(), 'snapshot', 'expired');
  repo.snapshot.expires = inDays(7);
  repo.targets.get('targets')!.expires = inDays(-1);
  repo.publish('targets');
  await refused(t, c, () => c.updater().refresh(), 'targets', 'expired');
  await server.close();
});

test('rollbacks of timestamp, snapshot and targets versions are refused', async (t) => {
  const { repo, server, c } = await started(t);
  repo.publish('targets');
  repo.publish('targets');
  await c.updater().refresh();
  const good = { ...repo.timestamp, meta: { ...repo.timestamp.meta } };
  repo.timestamp.version = 1;
  repo.writeTimestamp();
  await refused(t, c, () => c.updater().refresh(), 'timestamp', 'rollback', /version 1 is older than the trusted version 3/);
  repo.timestamp = { ...good, version: 4, meta: { 'snapshot.json': { version: 1 } } };
  repo.writeTimestamp();
  await refused(t, c, () => c.updater().refresh(), 'timestamp', 'rollback', /snapshot version 1, older than the trusted 3/);
  // A new snapshot that lists an older targets.
  repo.timestamp = good;
  repo.snapshot.meta['targets.json'] = { version: 2 };
  repo.publish();
  await refused(t, c, () => c.updater().refresh(), 'snapshot', 'rollback', /targets.json version 2 is older than the trusted 3/);
  await server.close();
});

test('a snapshot that does not match targets, and targets of the wrong hash or length, are refused', async (t) => {
  const repo = new ModelsRepository(t);
  repo.addTarget('file.txt', Buffer.from('the real content'));
  repo.publish('targets');
  const server = await served(t, repo);
  const c = client(t, server, repo.initialRoot);
  await c.updater().refresh();
  // The snapshot names targets v3; the file served under that name is v2.
  repo.snapshot.meta['targets.json'] = { version: 3 };
  repo.write('3.targets.json', signWithModels(repo.targets.get('targets')!, repo.signers.targets!));
  repo.snapshot.version++;
  repo.writeSnapshot();
  repo.timestamp.version++;
  repo.timestamp.meta['snapshot.json'] = { version: repo.snapshot.version };
  repo.writeTimestamp();
  await refused(t, c, () => c.updater().refresh(), 'targets', 'version-mismatch', /version 2, but the snapshot names version 3/);
  repo.targets.get('targets')!.version = 3;
  repo.writeTargets('targets');
  await c.updater().refresh();
  const sha = repo.targets.get('targets')!.targets['file.txt'].hashes.sha256;
  server.override(`/targets/${sha}.file.txt`, Buffer.from('the fake content'));
  await refused(t, c, () => c.updater().downloadTarget('file.txt', c.targetDir), 'targets', 'hash-mismatch', /target "file.txt" has sha256/);
  server.override(`/targets/${sha}.file.txt`, Buffer.from('the real content, and more'));
  await refused(t, c, () => c.updater().downloadTarget('file.txt', c.targetDir), 'targets', 'length', /longer than the 16 bytes/);
  t.deepEqual(readdirSync(c.targetDir), [], 'nothing unverified was written');
  server.override(`/targets/${sha}.file.txt`, Buffer.from('the real'));
  const short = await refused(t, c, () => c.updater().downloadTarget('file.txt', c.targetDir), 'targets', 'length', /8 bytes, shorter than the 16/);
  t.regex(short.hint ?? '', /cut short|truncated/);
  t.notRegex(short.hint ?? '', /endless|larger/);
  await server.close();
});

test('a target is written under its target path; a path that would leave the target directory is refused', async (t) => {
  const repo = new ModelsRepository(t);
  repo.addTarget('releases/app-1.2.tar.gz', Buffer.from('app 1.2'));
  repo.addTarget('../escape', Buffer.from('out'));
  repo.addTarget('/etc/escape', Buffer.from('out'));
  repo.publish('targets');
  const server = await served(t, repo);
  const c = client(t, server, repo.initialRoot);
  const { file } = await c.updater().downloadTarget('releases/app-1.2.tar.gz', c.targetDir);
  t.is(file, join(c.targetDir, 'releases', 'app-1.2.tar.gz'));
  t.is(readFileSync(file, 'utf8'), 'app 1.2');
  t.true((await c.updater().downloadTarget('releases/app-1.2.tar.gz', c.targetDir)).cached, 'found again under the same name');
  for (const path of ['../escape', '/etc/escape', 'releases/../../escape', 'a//b', 'a\\..\\b']) {
    const error = await t.throwsAsync(c.updater().downloadTarget(path, c.targetDir), undefined, path);
    t.is((error as { code?: string }).code, 'TUF_TARGET_PATH', path);
  }
  t.deepEqual(readdirSync(c.targetDir, { recursive: true }).sort(), ['releases', join('releases', 'app-1.2.tar.gz')]);
  t.throws(() => targetFile(c.targetDir, '..'), { message: /target path "\.\."/ });
  t.is(targetFile(c.targetDir, '..hidden/x'), join(c.targetDir, '..hidden', 'x'), 'a name that merely starts with two dots is a name');
  await server.close();
});

test('a server that trickles a byte at a time is cut off at the deadline for one file, naming it', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write('x'), 50);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata/timestamp.json`;
  const started = Date.now();
  const error = await t.throwsAsync(new HttpFetcher({ idleTimeoutMs: 5_000, deadlineMs: 400 }).fetch(url, 1_000_000, 'timestamp'));
  t.is((error as { code?: string }).code, 'TUF_DEADLINE');
  t.true(error!.message.startsWith(`timestamp: ${url} `), error!.message);
  t.regex(error!.message, /within 0\.4 s/);
  t.true(Date.now() - started < 3_000, 'the idle timeout never fired: bytes kept coming');
});

test('an endless download is cut off at its limit', async (t) => {
  const { server, c } = await started(t);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  server.override('/metadata/timestamp.json', (res) => {
    res.writeHead(200);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => undefined);
    pump();
  });
  await refused(t, c, () => c.updater().refresh(), 'timestamp', 'length', /longer than the 16384 bytes/);
  t.true(sent < 64 * 1024 * 1024, `the client stopped reading (${sent} bytes sent)`);
  await server.close();
});

test('fuzzed metadata from the repository never crashes the verifier', (t) => {
  const repo = new ModelsRepository(t);
  const root = repo.initialRoot;
  const timestamp = repo.writeTimestamp();
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, byte) => {
      const bytes = Buffer.from(timestamp);
      bytes[at % bytes.length] = byte;
      const set = new TrustedSet(root, Date.now());
      try {
        set.updateTimestamp(bytes);
      } catch (error) {
        if (!(error instanceof TrustError)) throw error;
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('role names become file names and URL parts quoted as python-tuf quotes them', (t) => {
  t.is(quote('?'), '%3F');
  t.is(quote('#'), '%23');
  t.is(quote('/delegatedrole'), '%2Fdelegatedrole');
  t.is(quote('../delegatedrole'), '..%2Fdelegatedrole');
  t.is(quote("a b!'()*~"), 'a%20b%21%27%28%29%2A~');
});

test('new timestamp keys: the client forgets the old timestamp and accepts a lower version (spec §5.3.11)', async (t) => {
  const { repo, server, c } = await started(t);
  for (let i = 0; i < 3; i++) repo.publish();
  t.is((await c.updater().refresh()).timestamp, 4);
  const rotated = testKey();
  repo.root.version = 2;
  repo.root.keys[rotated.keyid] = rotated.json;
  repo.root.roles.timestamp = { keyids: [rotated.keyid], threshold: 1 };
  repo.writeRoot();
  repo.signers.timestamp = [rotated];
  repo.timestamp.version = 1;
  repo.writeTimestamp();
  t.like(await c.updater().refresh(), { root: 2, timestamp: 1 });
  await server.close();
});
