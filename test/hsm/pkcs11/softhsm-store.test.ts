/**
 * The SoftHSM store a process sees, read as SoftHSM 2.6 reads it (SimpleConfigLoader, ObjectStore),
 * and the stores Keyward makes: the database object store where SoftHSM has one, else the file store.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeywardError } from '../../../src/errors.js';
import { createSoftHsmStore } from '../../../src/hsm/pkcs11/softhsm.js';
import { parseSoftHsmConfig, softHsmConfigPath, softHsmHasDatabaseStore, softHsmStore } from '../../../src/hsm/pkcs11/softhsm-store.js';
import { SOFTHSM_MODULE } from '../../harness/softhsm.js';
import { tempDir } from '../../harness/temp.js';

test("the config SoftHSM reads: SOFTHSM2_CONF, else the user's if readable, else the default", (t) => {
  const home = tempDir(t, 'keyward-softhsm-home-');
  t.is(softHsmConfigPath({ SOFTHSM2_CONF: '/somewhere/softhsm2.conf', HOME: home }), '/somewhere/softhsm2.conf');
  t.not(softHsmConfigPath({ HOME: home }), join(home, '.config', 'softhsm2', 'softhsm2.conf'), 'not there: not read');
  mkdirSync(join(home, '.config', 'softhsm2'), { recursive: true });
  writeFileSync(join(home, '.config', 'softhsm2', 'softhsm2.conf'), 'directories.tokendir = /x\n');
  t.is(softHsmConfigPath({ HOME: home }), join(home, '.config', 'softhsm2', 'softhsm2.conf'));
});

test('settings as SoftHSM parses them: comments, spaces, a value ends at another "=", the last line wins', (t) => {
  const settings = parseSoftHsmConfig(
    [
      '# SoftHSM v2 configuration file',
      'directories.tokendir = /var/lib/softhsm/tokens/  # where tokens live',
      'objectstore.backend=file\r',
      'objectstore.backend = db',
      'log.level = ERROR = WARNING',
      'slots.removable =   ',
      'not a setting',
    ].join('\n'),
  );
  t.deepEqual(Object.fromEntries(settings), {
    'directories.tokendir': '/var/lib/softhsm/tokens/',
    'objectstore.backend': 'db',
    'log.level': 'ERROR',
  });
});

test('any name and value written as "name = value" read back trimmed', (t) => {
  const word = fc.stringMatching(/^[^=#\r\n]+$/).filter((s) => s.trim().length > 0);
  fc.assert(
    fc.property(word, word, fc.boolean(), (name, value, comment) => {
      const settings = parseSoftHsmConfig(`${name} = ${value}${comment ? ' # note' : ''}\n`);
      return settings.get(name.trim()) === value.trim() && settings.size === 1;
    }),
  );
  t.pass();
});

test("each token's object store from its directory, and its serial from the directory's name", (t) => {
  const dir = tempDir(t, 'keyward-softhsm-dirs-');
  const tokens = join(dir, 'tokens');
  for (const [uuid, file] of [
    ['e7506b86-9b72-9a06-0b7f-6be57adb7ad7', 'token.object'],
    ['df0c594d-3226-0ec0-c348-ba13c41e2d99', 'sqlite3.db'],
    ['00000000-0000-0000-0000-000000000000', 'unrelated'],
  ] as const) {
    mkdirSync(join(tokens, uuid), { recursive: true });
    writeFileSync(join(tokens, uuid, file), '');
  }
  const config = join(dir, 'softhsm2.conf');
  writeFileSync(config, `directories.tokendir = ${tokens}\n`);
  const store = softHsmStore({ SOFTHSM2_CONF: config });
  t.is(store.backend, 'file', "SoftHSM's default");
  t.deepEqual(store.tokens.map((x) => [x.serial, x.objectStore]).sort(), [
    ['0b7f6be57adb7ad7', 'file'],
    ['c348ba13c41e2d99', 'db'],
  ]);
});

test("Keyward's own stores use the database object store where SoftHSM has it, else the file store", (t) => {
  const database = softHsmHasDatabaseStore(SOFTHSM_MODULE);
  const store = createSoftHsmStore('keyward-store-choice-');
  t.teardown(() => store.remove());
  t.is(store.objectStore, database ? 'db' : 'file');
  t.regex(readFileSync(store.config, 'utf8'), new RegExp(`^objectstore\\.backend = ${store.objectStore}$`, 'm'));
  t.is(softHsmStore(store.env).backend, store.objectStore);
  if (database) return;
  const error = t.throws(() => createSoftHsmStore('keyward-store-db-', { objectStore: 'db' }), { instanceOf: KeywardError });
  t.is(error?.code, 'SOFTHSM_NO_DATABASE_STORE');
});

test('whether a SoftHSM module has the database store: its DBToken compiles in the file name "sqlite3.db"', (t) => {
  const dir = tempDir(t, 'keyward-softhsm-module-');
  writeFileSync(join(dir, 'with.so'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from('sqlite3.db\0')]));
  writeFileSync(join(dir, 'without.so'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]));
  t.true(softHsmHasDatabaseStore(join(dir, 'with.so')));
  t.false(softHsmHasDatabaseStore(join(dir, 'without.so')));
  t.false(softHsmHasDatabaseStore(join(dir, 'missing.so')));
});
