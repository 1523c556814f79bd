/**
 * A TUF repository written with @tufjs/models (a writer no one here made), on disk in the TUF HTTP
 * layout, for testing Keyward's client against metadata it did not produce. Tests change the plain
 * JSON of a role and publish it again, as a publisher (or an attacker with keys) would.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, Signature } from '@tufjs/models';
import { tempDir, type Teardown } from './temp.js';

export interface TestKey {
  keyid: string;
  json: { keytype: string; scheme: string; keyval: { public: string } };
  privateKey: KeyObject;
}

// Metadata as @tufjs/models builds and this harness edits it: its shape is the spec's, checked by the client under test.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any TUF role, edited field by field
type Json = Record<string, any>;

export function testKey(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const json = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } };
  return { keyid: createHash('sha256').update(canonicalize(json)).digest('hex'), json, privateKey };
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const KINDS: Record<string, MetadataKind> = {
  root: MetadataKind.Root,
  timestamp: MetadataKind.Timestamp,
  snapshot: MetadataKind.Snapshot,
  targets: MetadataKind.Targets,
};

/** Signs through @tufjs/models: it canonicalizes, we sign the bytes it hands over. */
export function signWithModels(signed: Json, signers: TestKey[]): Buffer {
  const md = Metadata.fromJSON(KINDS[signed._type]! as MetadataKind.Root, { signed, signatures: [] } as never);
  for (const key of signers) md.sign((data) => new Signature({ keyID: key.keyid, sig: sign(null, data, key.privateKey).toString('hex') }), true);
  return Buffer.from(JSON.stringify(md.toJSON(), null, 1));
}

/** Signs plain JSON without a model's checks: for metadata a careful writer refuses to make. */
export function signRaw(signed: Json, signers: TestKey[]): Buffer {
  const data = Buffer.from(canonicalize(signed));
  return Buffer.from(JSON.stringify({ signatures: signers.map((k) => ({ keyid: k.keyid, sig: sign(null, data, k.privateKey).toString('hex') })), signed }));
}

export class ModelsRepository {
  /** Removed at the teardown of the test that made the repository. */
  readonly dir: string;
  readonly signers: Record<string, TestKey[]> = {};
  root: Json;
  timestamp: Json;
  snapshot: Json;
  readonly targets = new Map<string, Json>();

  constructor(t: Teardown) {
    this.dir = tempDir(t, 'keyward-tufjs-repo-');
    mkdirSync(join(this.dir, 'metadata'));
    mkdirSync(join(this.dir, 'targets'));
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) this.signers[role] = [testKey()];
    this.root = {
      _type: 'root',
      spec_version: '1.0.31',
      version: 1,
      expires: inDays(365),
      consistent_snapshot: true,
      keys: Object.fromEntries(
        Object.values(this.signers)
          .flat()
          .map((k) => [k.keyid, k.json]),
      ),
      roles: Object.fromEntries(Object.entries(this.signers).map(([role, keys]) => [role, { keyids: keys.map((k) => k.keyid), threshold: 1 }])),
    };
    this.targets.set('targets', { _type: 'targets', spec_version: '1.0.31', version: 1, expires: inDays(90), targets: {} });
    this.snapshot = { _type: 'snapshot', spec_version: '1.0.31', version: 1, expires: inDays(7), meta: { 'targets.json': { version: 1 } } };
    this.timestamp = { _type: 'timestamp', spec_version: '1.0.31', version: 1, expires: inDays(1), meta: { 'snapshot.json': { version: 1 } } };
    this.writeRoot();
    this.writeTargets('targets');
    this.writeSnapshot();
    this.writeTimestamp();
  }

  get initialRoot(): Buffer {
    return signWithModels({ ...this.root, version: 1 }, this.signers.root!);
  }

  write(file: string, bytes: Buffer): void {
    writeFileSync(join(this.dir, 'metadata', file), bytes);
  }

  /** `N.root.json`, signed by the current root keys and any `extra` (the previous root's, in a rotation). */
  writeRoot(extra: TestKey[] = [], bytes?: Buffer): Buffer {
    const out = bytes ?? signWithModels(this.root, [...extra, ...this.signers.root!]);
    this.write(`${this.root.version}.root.json`, out);
    return out;
  }

  writeTargets(role: string, bytes?: Buffer): Buffer {
    const signed = this.targets.get(role)!;
    const out = bytes ?? signWithModels(signed, this.signers[role]!);
    this.write(`${signed.version}.${encodeURIComponent(role)}.json`, out);
    return out;
  }

  writeSnapshot(bytes?: Buffer): Buffer {
    const out = bytes ?? signWithModels(this.snapshot, this.signers.snapshot!);
    this.write(`${this.snapshot.version}.snapshot.json`, out);
    return out;
  }

  writeTimestamp(bytes?: Buffer): Buffer {
    const out = bytes ?? signWithModels(this.timestamp, this.signers.timestamp!);
    this.write('timestamp.json', out);
    return out;
  }

  /** Puts a target's file in place (consistent name) and describes it in `role`. */
  addTarget(path: string, content: Buffer, role = 'targets'): void {
    const sha256 = createHash('sha256').update(content).digest('hex');
    const slash = path.lastIndexOf('/');
    const file = join(this.dir, 'targets', `${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    this.targets.get(role)!.targets[path] = { length: content.length, hashes: { sha256 } };
  }

  /** A delegation from `parent` to a new role with its own keys. */
  delegate(
    parent: string,
    role: { name: string; paths?: string[]; path_hash_prefixes?: string[]; terminating?: boolean; keys?: number; threshold?: number },
  ): void {
    const keys = Array.from({ length: role.keys ?? 1 }, testKey);
    this.signers[role.name] = keys;
    const signed = this.targets.get(parent)!;
    signed.delegations ??= { keys: {}, roles: [] };
    for (const k of keys) signed.delegations.keys[k.keyid] = k.json;
    const { name, paths, path_hash_prefixes, terminating = false, threshold = 1 } = role;
    signed.delegations.roles.push({ name, keyids: keys.map((k) => k.keyid), threshold, terminating, ...(paths ? { paths } : { path_hash_prefixes }) });
    this.targets.set(role.name, { _type: 'targets', spec_version: '1.0.31', version: 1, expires: inDays(90), targets: {} });
    this.snapshot.meta[`${role.name}.json`] = { version: 1 };
  }

  /**
   * A succinct hash-bin delegation (TAP 15) from `parent`, all bins under one new key; only the bins
   * named in `bins` are made (empty, listed in the snapshot), as a test needs no more.
   */
  delegateSuccinct(parent: string, succinct: { bit_length: number; name_prefix: string }, bins: string[]): void {
    const key = testKey();
    const signed = this.targets.get(parent)!;
    signed.delegations = { keys: { [key.keyid]: key.json }, succinct_roles: { keyids: [key.keyid], threshold: 1, ...succinct } };
    for (const bin of bins) {
      this.signers[bin] = [key];
      this.targets.set(bin, { _type: 'targets', spec_version: '1.0.31', version: 1, expires: inDays(90), targets: {} });
      this.snapshot.meta[`${bin}.json`] = { version: 1 };
    }
  }

  /** New versions of the given targets roles, then snapshot and timestamp, as a publisher does. */
  publish(...roles: string[]): void {
    for (const role of roles) {
      const signed = this.targets.get(role)!;
      if (this.snapshot.meta[`${role}.json`].version === signed.version) signed.version++;
      this.snapshot.meta[`${role}.json`] = { version: signed.version };
      this.writeTargets(role);
    }
    this.snapshot.version++;
    this.writeSnapshot();
    this.timestamp.version++;
    this.timestamp.meta['snapshot.json'] = { version: this.snapshot.version };
    this.writeTimestamp();
  }
}

export { inDays };
