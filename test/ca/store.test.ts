/**
 * ca.json is input: the CA directory is public and travels on removable media. Every field is
 * checked when it is read, and a bad one is named with its file; key URIs come back marked as
 * read from the file.
 */
import test from 'ava';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { CaDirectory, parseCaConfig } from '../../src/ca/store.js';
import { UsageError } from '../../src/errors.js';
import { tempDir, type Teardown } from '../harness/temp.js';

const VALID = {
  format: 1,
  clusterId: 'cluster-a',
  rootKey: 'pkcs11:token=offline-root;object=root',
  intermediateKey: 'yubikey:serial=12345678;slot=9c',
  nodeDays: 90,
  urls: { crl: 'http://pki.example/cluster-a.crl' },
};

function directoryWith(t: Teardown, config: unknown): CaDirectory {
  const directory = new CaDirectory(tempDir(t, 'keyward-store-'));
  writeFileSync(directory.path('ca.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return directory;
}

test('a valid ca.json reads back, its key URIs marked as read from that file and field', (t) => {
  const directory = directoryWith(t, VALID);
  const config = directory.config();
  t.is(config.clusterId, 'cluster-a');
  t.is(config.nodeDays, 90);
  t.deepEqual(config.urls, { crl: 'http://pki.example/cluster-a.crl', caIssuers: undefined });
  t.is(config.intermediateKey?.text, VALID.intermediateKey);
  t.deepEqual(config.intermediateKey?.origin, { kind: 'file', file: directory.path('ca.json'), field: 'intermediateKey' });
  t.deepEqual(config.rootKey?.origin, { kind: 'file', file: directory.path('ca.json'), field: 'rootKey' });
  directory.saveConfig(config);
  t.deepEqual(JSON.parse(JSON.stringify(directory.config())), JSON.parse(JSON.stringify(config)), 'saved as the text it was read as');
});

const BAD: Array<[string, string, unknown]> = [
  ['', 'must hold a JSON object', ['not', 'an', 'object']],
  ['intermedateKey', 'is not a field of ca.json', { ...VALID, intermedateKey: VALID.intermediateKey }],
  ['format', 'is 2; this Keyward reads format 1', { ...VALID, format: 2 }],
  ['nodeDays', 'must be a number', { ...VALID, nodeDays: '90' }],
  ['nodeDays', 'from 1 to 3650, not 0', { ...VALID, nodeDays: 0 }],
  ['nodeDays', 'not 1.5', { ...VALID, nodeDays: 1.5 }],
  ['nodeDays', 'not 100000', { ...VALID, nodeDays: 100000 }],
  ['clusterId', 'must be a string', { ...VALID, clusterId: 42 }],
  ['clusterId', 'is not a valid cluster ID', { ...VALID, clusterId: 'cluster a' }],
  ['intermediateKey', 'must be a string', { ...VALID, intermediateKey: { uri: 'pkcs11:' } }],
  ['intermediateKey', 'malformed PKCS#11 URI at position 17: unknown attribute "objekt"', { ...VALID, intermediateKey: 'pkcs11:token=ca;objekt=root' }],
  ['rootKey', 'is not a key URI', { ...VALID, rootKey: '/usr/lib/libevil.so' }],
  ['pendingIntermediateKey', 'malformed YubiKey URI', { ...VALID, pendingIntermediateKey: 'yubikey:slot=9z' }],
  // Whoever edits the file could feed a wrong PIN and spend the token's tries.
  ['rootKey', 'may not say where a PIN or key comes from', { ...VALID, rootKey: 'pkcs11:token=offline-root;object=root?pin-source=file:/tmp/wrong-pin' }],
  [
    'intermediateKey',
    'may not say where a PIN or key comes from',
    { ...VALID, intermediateKey: 'yubikey:serial=12345678;slot=9c?management-key-source=file:/tmp/k' },
  ],
  ['previousRootKey', 'may not say where a PIN or key comes from', { ...VALID, previousRootKey: 'pkcs11:token=r;object=old?pin-value=123456' }],
  ['urls', 'must be an object', { ...VALID, urls: 'http://pki.example' }],
  ['urls.crl', 'must be a string', { ...VALID, urls: { crl: 7 } }],
  ['urls.ocsp', 'is not a field of urls', { ...VALID, urls: { ocsp: 'http://ocsp.example' } }],
];

for (const [field, problem, config] of BAD) {
  test(`ca.json refused, naming the file and field: ${field || 'the file'} ${problem}`, (t) => {
    const directory = directoryWith(t, config);
    const file = directory.path('ca.json');
    const error = t.throws(() => directory.config(), { instanceOf: UsageError });
    t.is(error?.code, 'CA_CONFIG_INVALID');
    t.true(error?.message.startsWith(`${file}: ${field ? `"${field}"` : 'the file'}`), error?.message);
    t.true(error?.message.includes(problem), error?.message);
    t.deepEqual(error?.details, { file, field });
  });
}

test('not JSON at all: refused as corrupt', (t) => {
  const error = t.throws(() => directoryWith(t, '{"format": 1,').config(), { instanceOf: UsageError });
  t.is(error?.code, 'CA_CONFIG_CORRUPT');
});

test('property: any JSON is either a checked ca.json or refused with CA_CONFIG_INVALID, never a crash', (t) => {
  const field = fc.oneof(fc.constantFrom(...Object.keys(VALID), 'previousRootKey', 'pendingIntermediateKey'), fc.string());
  const arbitrary = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(field, fc.oneof(fc.jsonValue(), fc.constantFrom(...Object.values(VALID)))).map((extra) => ({ ...VALID, ...extra })),
  );
  fc.assert(
    fc.property(arbitrary, (value) => {
      try {
        const config = parseCaConfig(value, '/media/ca/ca.json');
        return config.format === 1 && Number.isInteger(config.nodeDays);
      } catch (error) {
        return error instanceof UsageError && error.code === 'CA_CONFIG_INVALID';
      }
    }),
  );
  t.pass();
});
