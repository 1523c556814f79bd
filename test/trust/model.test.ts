/**
 * The TUF model and its codec against what real writers produced: canonical JSON byte for byte equal
 * to @tufjs/canonical-json and python-tuf's securesystemslib, key ids computed, signatures verified
 * on the fixture repositories, and a parser that refuses bad input with TrustError, never a crash.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize as tufjsCanonicalize } from '@tufjs/canonical-json';
import { canonicalBytes, canonicalize } from '../../src/trust/canonical-json.js';
import { parseJsonExact } from '../../src/trust/exact-json.js';
import { TrustError } from '../../src/trust/errors.js';
import { keyIdOf, tufKeyFromSpki, verifySignature } from '../../src/trust/keys.js';
import { pathMatches, hashBins, binOf, pathHash, succinctBin, delegatedRole, checkDelegations } from '../../src/trust/delegations.js';
import { SuccinctRoles } from '@tufjs/models/dist/role.js';
import { parseRoot, rootRole } from '../../src/trust/root.js';
import { parseSnapshot } from '../../src/trust/snapshot.js';
import { parseTargets, type TargetsSigned } from '../../src/trust/targets.js';
import { Metadata } from '../../src/trust/metadata.js';
import { parseTimestamp } from '../../src/trust/timestamp.js';
import { MemoryKeyHandle } from '../../src/keystore/memory-key.js';
import { fixtureRepositories, jsonFiles, pythonCanonical, tufFixturesDir } from '../harness/tuf.js';

const fixtureDocuments = () => jsonFiles(tufFixturesDir()).map((file) => ({ file, value: JSON.parse(readFileSync(file, 'utf8')) as { signed: unknown } }));

test('canonical JSON equals @tufjs/canonical-json and securesystemslib byte for byte on every fixture file', (t) => {
  const documents = fixtureDocuments();
  t.true(documents.length >= 6, 'the fixtures are there');
  const values = documents.flatMap((d) => [d.value, d.value.signed]);
  const python = pythonCanonical(values);
  values.forEach((value, i) => {
    const ours = canonicalize(value);
    t.is(ours, tufjsCanonicalize(value), `@tufjs/canonical-json, ${documents[i >> 1]!.file}`);
    t.is(ours, python[i], `securesystemslib, ${documents[i >> 1]!.file}`);
  });
});

/** 300 JSON documents of every kind (escapes, unicode, nesting; keys in any order), the same for a seed. */
function jsonDocuments(seed: number): unknown[] {
  const key = fc.string({ unit: 'binary-ascii', maxLength: 8 });
  const leaf = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.string({ unit: 'binary-ascii', maxLength: 12 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, tie('tree'), { maxKeys: 5 })),
  }));
  return fc.sample(tree, { numRuns: 300, seed });
}

test('canonical JSON equals both peers on generated documents (escapes, unicode, nesting)', (t) => {
  const samples = jsonDocuments(11);
  const python = pythonCanonical(samples);
  samples.forEach((value, i) => {
    t.is(canonicalize(value), tufjsCanonicalize(value));
    t.is(canonicalize(value), python[i]);
  });
});

/** The same value with every object's keys inserted in sorted order, as JSON.parse gives a file written sorted. */
function keysSorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keysSorted);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, keysSorted((value as Record<string, unknown>)[k])]),
  );
}

test('canonical JSON of values read from sorted files (written natively) equals both peers, and steps aside for what JSON escapes or orders otherwise', (t) => {
  const special = [
    { a: 'quote " and backslash \\', b: 'control \u0001 and newline \n' }, // escaped differently by JSON.stringify
    { '\uffff': 2, '\u{10000}': 1 }, // UTF-16 order is not code point order
    { 9: 'nine', 10: 'ten' }, // index-like keys: JavaScript keeps them in numeric order
    { a: 1, b: { c: [1, 'x', { d: null, e: true }] } },
  ];
  const samples = [...jsonDocuments(12).map(keysSorted), ...special];
  const python = pythonCanonical(samples);
  samples.forEach((value, i) => {
    t.is(canonicalize(value), python[i], JSON.stringify(value));
    // @tufjs sorts by UTF-16 units (see the test below); every random key is ASCII.
    if (i < samples.length - special.length) t.is(canonicalize(value), tufjsCanonicalize(value));
  });
  // Not JSON's types: refused as before, or written as the writer writes them (a Date has no own keys).
  t.throws(() => canonicalize(keysSorted({ a: 1, b: 1.5 })), { code: 'CANONICAL_JSON_NUMBER' });
  t.is(canonicalize({ a: new Date(0) }), '{"a":{}}');
  t.is(canonicalize({ a: 10n ** 20n }), '{"a":100000000000000000000}');
});

test('a toJSON planted on a prototype does not choose the canonical form', (t) => {
  const value = keysSorted({ signed: { _type: 'targets', version: 2, targets: { a: { length: 1, hashes: { sha256: '00' } } }, list: [1, [2]] } });
  const [python] = pythonCanonical([value]);
  for (const prototype of [Object.prototype, Array.prototype]) {
    // Synchronous: no other test runs while the prototype is polluted.
    Object.defineProperty(prototype, 'toJSON', { value: () => 'pwned', configurable: true, writable: true });
    try {
      t.is(canonicalize(value), python);
    } finally {
      delete (prototype as { toJSON?: unknown }).toJSON;
    }
  }
});

test('keys outside the Basic Multilingual Plane sort by code point, as python-tuf sorts them', (t) => {
  const value = { '\u{10000}': 1, '\uffff': 2 };
  const [python] = pythonCanonical([value]);
  t.is(canonicalize(value), python);
});

test('canonical JSON of a document far larger than the pieces it is written in equals both peers, multi-byte characters included', (t) => {
  // Written a few kilobytes at a time: every piece boundary must fall between whole characters.
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < 3000; i++) {
    targets[`files/é${i}/naïve-${i}.tar.gz`] = {
      length: i,
      hashes: { sha256: i.toString(16).padStart(64, '0') },
      custom: { note: `über\\"${'€'.repeat(i % 7)}\u{1f600}` },
    };
  }
  const value = { signed: { _type: 'targets', targets, list: [[], {}, [{}], 'x'.repeat(40_000)] } };
  const ours = canonicalize(value);
  t.true(Buffer.byteLength(ours) > 500_000, 'many pieces');
  t.is(ours, tufjsCanonicalize(value));
  t.is(ours, pythonCanonical([value])[0]);
  t.true(canonicalBytes(value).equals(Buffer.from(ours, 'utf8')));
});

test('metadata files are written with `signed` in canonical form, the bytes signed; a control character in a string keeps the file JSON', (t) => {
  const file = (name: string) => {
    const signed = {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 1,
      expires: '2030-01-01T00:00:00Z',
      targets: { [name]: { length: 1, hashes: { sha256: '00' } } },
    };
    return new Metadata<TargetsSigned>('targets', { signed: signed as TargetsSigned, signatures: [{ keyid: 'k', sig: '00' }] });
  };
  const plain = file('b/a.tgz');
  const bytes = plain.toBytes();
  t.true(bytes.equals(Buffer.concat([Buffer.from('{"signed":'), plain.canonical, Buffer.from(',"signatures":[{"keyid":"k","sig":"00"}]}')])));
  const odd = file('line\nbreak');
  t.false(odd.toBytes().includes(odd.canonical), 'the canonical form is not JSON here');
  t.deepEqual(JSON.parse(odd.toBytes().toString('utf8')), odd.envelope);
  t.true(parseTargets(odd.toBytes()).canonical.equals(odd.canonical));
});

test('floats and non-JSON values are refused, not rounded', (t) => {
  t.throws(() => canonicalize({ a: 1.5 }), { code: 'CANONICAL_JSON_NUMBER' });
  t.throws(() => canonicalize({ a: () => 1 }), { code: 'CANONICAL_JSON_TYPE' });
});

test('the fixture repository parses role by role; key ids are computed and every signature verifies', (t) => {
  for (const repo of fixtureRepositories()) {
    const root = parseRoot(repo.initialRoot);
    root.verifyThreshold(root.signed.keys, rootRole(root.signed, 'root'));
    for (const keyid of Object.keys(root.signed.keys)) t.is(keyIdOf(root.signed.keys[keyid]!), keyid);
    const metadata = join(repo.dir, 'metadata');
    const timestamp = parseTimestamp(readFileSync(join(metadata, 'timestamp.json')));
    timestamp.verifyThreshold(root.signed.keys, rootRole(root.signed, 'timestamp'));
    const snapshotVersion = timestamp.signed.meta['snapshot.json'].version;
    const snapshot = parseSnapshot(readFileSync(join(metadata, `${snapshotVersion}.snapshot.json`)));
    snapshot.verifyThreshold(root.signed.keys, rootRole(root.signed, 'snapshot'));
    const targets = parseTargets(readFileSync(join(metadata, `${snapshot.signed.meta['targets.json']!.version}.targets.json`)));
    targets.verifyThreshold(root.signed.keys, rootRole(root.signed, 'targets'));
    for (const role of targets.signed.delegations?.roles ?? []) {
      const delegated = parseTargets(readFileSync(join(metadata, `${snapshot.signed.meta[`${role.name}.json`]!.version}.${role.name}.json`)), role.name);
      delegated.verifyThreshold(targets.signed.delegations!.keys, role);
      t.truthy(delegated.signed.targets[repo.targetPath], `${role.name} describes ${repo.targetPath}`);
    }
  }
});

test('one changed byte of signed content breaks the signature; an unsigned field does not matter', (t) => {
  const [repo] = fixtureRepositories();
  const text = repo!.initialRoot.toString('utf8');
  const tampered = parseRoot(Buffer.from(text.replace('"version": 1', '"version": 2')));
  const error = t.throws(() => tampered.verifyThreshold(tampered.signed.keys, rootRole(tampered.signed, 'root')), { instanceOf: TrustError });
  t.regex(error.message, /^root: 0 valid signatures from the root keys, 1 required/);
  const extra = JSON.parse(text);
  extra.unsigned = 'outside the signed part';
  const root = parseRoot(Buffer.from(JSON.stringify(extra)));
  t.notThrows(() => root.verifyThreshold(root.signed.keys, rootRole(root.signed, 'root')));
});

test('a key id that is not the hash of its key is refused, naming the role', (t) => {
  const [repo] = fixtureRepositories();
  const doc = JSON.parse(repo!.initialRoot.toString('utf8'));
  const [id, key] = Object.entries(doc.signed.keys)[0]!;
  delete doc.signed.keys[id];
  doc.signed.keys['0'.repeat(64)] = key;
  const error = t.throws(() => parseRoot(Buffer.from(JSON.stringify(doc))), { instanceOf: TrustError });
  t.is(error.code, 'TUF_KEY_ID');
  t.regex(error.message, /^root: key "0{64}"/);
});

test('a malformed target entry is refused with its path and what is wrong; a length beyond 2^53 is read exactly', (t) => {
  const targets = (entry: string) =>
    Buffer.from(
      `{"signed":{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{"ok":{"length":1,"hashes":{"sha256":"ab"}},"a/b":${entry}}},"signatures":[]}`,
    );
  for (const [entry, reason] of [
    ['"x"', 'target "a/b" must be an object'],
    ['{"length":-1,"hashes":{"sha256":"ab"}}', 'target "a/b".length must be an integer ≥ 0'],
    ['{"length":1}', 'target "a/b".hashes must be an object'],
    ['{"length":1,"hashes":{}}', 'target "a/b".hashes must name at least one hash'],
    ['{"length":1,"hashes":{"sha256":"AB"}}', 'target "a/b".hashes.sha256 must be a hex digest'],
    ['{"length":1,"hashes":{"sha256":"ab"},"custom":[]}', 'target "a/b".custom must be an object'],
  ]) {
    const error = t.throws(() => parseTargets(targets(entry!), 'targets', { exactIntegers: true }), { instanceOf: TrustError }, entry);
    t.is(error?.message, `targets: ${reason}`);
  }
  const big = parseTargets(targets('{"length":9007199254740993,"hashes":{"sha256":"ab"},"custom":{}}'), 'targets', { exactIntegers: true });
  t.is(big.signed.targets['a/b']!.length as unknown, 9007199254740993n);
});

test('threshold 0 and duplicate signatures are refused at parse time', (t) => {
  const [repo] = fixtureRepositories();
  const zero = JSON.parse(repo!.initialRoot.toString('utf8'));
  zero.signed.roles.timestamp.threshold = 0;
  t.like(
    t.throws(() => parseRoot(Buffer.from(JSON.stringify(zero))), { instanceOf: TrustError }),
    { code: 'TUF_THRESHOLD', role: 'root' },
  );
  const twice = JSON.parse(repo!.initialRoot.toString('utf8'));
  twice.signatures.push({ ...twice.signatures[0] });
  t.regex(t.throws(() => parseRoot(Buffer.from(JSON.stringify(twice))), { instanceOf: TrustError }).message, /^root: signatures lists key \w+ more than once/);
});

test('keys of every Keystore algorithm become TUF keys whose signatures verify (DER ECDSA, PSS, Ed25519)', async (t) => {
  const data = Buffer.from('canonical bytes');
  for (const algorithm of ['ed25519', 'p256', 'p384', 'rsa2048'] as const) {
    const handle = new MemoryKeyHandle(algorithm);
    const key = tufKeyFromSpki(await handle.publicKey());
    const { signOptionsFor } = await import('../../src/trust/keys.js');
    const signature = Buffer.from(await handle.sign(data, signOptionsFor(algorithm))).toString('hex');
    t.true(verifySignature(key, data, signature), algorithm);
    t.false(verifySignature(key, Buffer.from('other bytes'), signature), `${algorithm} over other bytes`);
    t.false(verifySignature({ ...key, scheme: 'ecdsa-sha2-nistp521' }, data, signature), `${algorithm} under an unknown scheme`);
  }
});

test('path patterns match per segment, as fnmatch does; hash bins cover every path exactly once', (t) => {
  t.true(pathMatches('targets/*.tgz', 'targets/foo.tgz'));
  t.false(pathMatches('targets/*.tgz', 'targets/foo.txt'));
  t.true(pathMatches('foo-version-?.tgz', 'foo-version-a.tgz'));
  t.false(pathMatches('foo-version-?.tgz', 'foo-version-alpha.tgz'));
  t.false(pathMatches('*.tgz', 'targets/foo.tgz'), 'a wildcard never matches a separator');
  t.true(pathMatches('delegatedrole/*', 'delegatedrole/artifact'));
  t.true(pathMatches('file[0-9].txt', 'file7.txt'));
  t.false(pathMatches('file[!0-9].txt', 'file7.txt'));
  t.true(pathMatches('a.b', 'a.b'));
  t.false(pathMatches('a.b', 'axb'), 'a dot is a dot');
  t.notThrows(() => t.false(pathMatches('releases/[z-a]*', 'releases/app')), 'a class fnmatch cannot use matches nothing, and throws nothing');
  for (const count of [2, 16, 32, 256]) {
    const bins = hashBins(count);
    t.is(bins.length, count);
    t.is(
      new Set(bins.flatMap((b) => b.prefixes)).size,
      bins.reduce((n, b) => n + b.prefixes.length, 0),
    );
    for (const path of ['a', 'images/app:1.0', 'x/y/z']) {
      const bin = binOf(bins, path);
      t.true(
        bin.prefixes.some((p) => pathHash(path).startsWith(p)),
        `${path} in ${bin.name}`,
      );
    }
  }
  t.throws(() => hashBins(3), { instanceOf: TrustError });
});

test('fuzzed metadata never crashes the parsers or the verifier: a TrustError or a result', (t) => {
  const documents = fixtureDocuments().map((d) => readFileSync(d.file));
  const parsers = [parseRoot, parseTimestamp, parseSnapshot, (b: Uint8Array) => parseTargets(b)];
  const check = (bytes: Uint8Array) => {
    for (const parse of parsers) {
      try {
        const md = parse(bytes);
        const root = parseRoot(documents[0]!);
        try {
          md.verifyThreshold(root.signed.keys, rootRole(root.signed, 'root'));
        } catch (error) {
          if (!(error instanceof TrustError)) throw error;
        }
      } catch (error) {
        if (!(error instanceof TrustError)) throw error;
      }
    }
  };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: documents.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (which, at, byte) => {
      const bytes = Buffer.from(documents[which]!);
      bytes[at % bytes.length] = byte;
      check(bytes);
    }),
    { numRuns: 400 },
  );
  // Structurally wrong but valid JSON: every field of a real document replaced by something else.
  const replacement = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.string(), fc.constant([]), fc.constant({}), fc.constant(0), fc.constant(-1));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: documents.length - 1 }), fc.nat(), replacement, (which, pick, value) => {
      const doc = JSON.parse(documents[which]!.toString());
      const paths: Array<[Record<string, unknown>, string]> = [];
      const walk = (node: unknown) => {
        if (typeof node === 'object' && node !== null)
          for (const k of Object.keys(node)) {
            paths.push([node as Record<string, unknown>, k]);
            walk((node as Record<string, unknown>)[k]);
          }
      };
      walk(doc);
      const [parent, k] = paths[pick % paths.length]!;
      parent[k] = value;
      check(Buffer.from(JSON.stringify(doc)));
    }),
    { numRuns: 600 },
  );
  t.pass();
});

test('succinct hash bins: the bin of a path and the bins a delegation covers are those of tuf-js, for every bit_length', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 32 }), fc.string(), fc.constantFrom('bin', 'a-b', ''), (bits, path, prefix) => {
      const theirs = new SuccinctRoles({ keyIDs: [], threshold: 1, bitLength: bits, namePrefix: prefix });
      const ours = { keyids: [], threshold: 1, bit_length: bits, name_prefix: prefix };
      const bin = succinctBin(ours, path);
      t.is(bin, theirs.getRoleForTarget(path));
      const delegations = checkDelegations({ keys: {}, succinct_roles: ours }, 'targets');
      t.is(delegatedRole(delegations, bin), ours);
      t.is(delegatedRole(delegations, `${bin}0`), undefined);
      t.is(delegatedRole(delegations, `${prefix}-${'f'.repeat(Math.ceil(bits / 4) + 1)}`), undefined);
    }),
    { numRuns: 500 },
  );
});

test('exact JSON: integers beyond 2^53 as bigints with their digits, canonical JSON writes them back; all else as JSON.parse', (t) => {
  const text = '{"a":[9007199254740993,-9007199254740993,1,1.5,"9007199254740993"],"__proto__":{"b":18446744073709551617}}';
  const value = parseJsonExact(text) as Record<string, unknown>;
  t.deepEqual(value.a, [9007199254740993n, -9007199254740993n, 1, 1.5, '9007199254740993']);
  t.true(Object.hasOwn(value, '__proto__'));
  t.is(canonicalize({ v: parseJsonExact('9007199254740993') }), '{"v":9007199254740993}');
  // The big integer up front sends any document down the slow path; read back as numbers, what it gives equals JSON.parse.
  const asNumbers = (value: unknown): unknown =>
    typeof value === 'bigint'
      ? Number(value)
      : Array.isArray(value)
        ? value.map(asNumbers)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asNumbers(v)]))
          : value;
  fc.assert(
    fc.property(fc.json(), (json) => {
      const [first, rest] = parseJsonExact(`[9007199254740993,${json}]`) as [unknown, unknown];
      t.is(first, 9007199254740993n);
      t.deepEqual(asNumbers(rest), JSON.parse(json));
    }),
  );
  // Wherever JSON lets a number stand: at the start, after [ , or :, with JSON's whitespace before it.
  for (const [text, expected] of [
    [' \r\n-9007199254740993 ', -9007199254740993n],
    ['[1,\n\t9007199254740993]', [1, 9007199254740993n]],
    ['{"a" :\r\n 9007199254740993}', { a: 9007199254740993n }],
    ['{"a":"x:9007199254740993","b":9007199254740991}', { a: 'x:9007199254740993', b: 9007199254740991 }],
  ] as const)
    t.deepEqual(parseJsonExact(text), expected, JSON.stringify(text));
  for (const bad of ['[1,]', '{"a" 1}', '01', '[9007199254740993', 'tru']) t.throws(() => parseJsonExact(bad), { instanceOf: SyntaxError }, bad);
});
