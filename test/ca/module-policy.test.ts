/**
 * A CA directory is public and travels on removable media: the key URIs in its ca.json must not
 * choose code for Keyward to load. A module the operator has not allowed is refused before
 * dlopen (a gcc-built module whose constructor writes a marker file proves it never loaded); a
 * module allowed through p11-kit's registry, the allow-list or the operator's choice still works.
 */
import test from 'ava';
import { chmodSync, chownSync, copyFileSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuthority } from '../../src/ca/authority.js';
import { serveCa } from '../../src/ca/server/serve.js';
import { CA_FILES } from '../../src/ca/store.js';
import { UnavailableError, UsageError } from '../../src/errors.js';
import { requireAllowedModule } from '../../src/hsm/pkcs11/module-policy.js';
import { registeredModules } from '../../src/hsm/pkcs11/p11-kit.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { nodeCsr, testCa, type TestCa } from '../harness/ca.js';
import { recordingInteraction, USER_PIN } from '../harness/keystore.js';
import { markerModule } from '../harness/marker-module.js';
import { SOFTHSM_MODULE } from '../harness/softhsm.js';
import { tempDir, type Teardown } from '../harness/temp.js';

const NOBODY = 65534;

/** A keystore as `keyward ca …` makes one, reading the allow-list from `allowList` (not /etc). */
function keystore(allowList: string, options: { module?: string } = {}): Keystore {
  return new Keystore({
    env: { KEYWARD_PIN: USER_PIN },
    interaction: recordingInteraction([]),
    pkcs11ModuleAllowList: allowList,
    pkcs11Module: options.module,
  });
}

/** Rewrites ca.json so that the intermediate's key URI names `module`, as whoever edits the file could. */
function nameModule(ca: TestCa, query: string): string {
  const file = ca.directory.path(CA_FILES.config);
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.intermediateKey = `${config.intermediateKey.split('?')[0]}?${query}`;
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

const scratch = (t: Teardown) => tempDir(t, 'keyward-policy-');

/** A test CA whose ca.json names a fresh marker module, and an allow-list path with nothing there yet. */
async function caNamingMarker(t: Teardown) {
  const ca = await testCa(t);
  const evil = markerModule(t);
  nameModule(ca, `module-path=${evil.path}`);
  return { ca, evil, allowList: join(scratch(t), 'pkcs11-modules') };
}

test('openAuthority and serveCa refuse a module ca.json names but nobody allowed; it never loads, whatever the path trick', async (t) => {
  const ca = await testCa(t);
  const evil = markerModule(t);
  const noAllowList = join(scratch(t), 'pkcs11-modules');
  const links = scratch(t);
  symlinkSync(evil.path, join(links, 'libsofthsm2.so'));
  const disguises = [
    evil.path,
    `/usr/lib/softhsm/../../..${evil.path}`, // `../` out of an allowed directory
    join(links, 'libsofthsm2.so'), // a link with the allowed module's name
  ];
  for (const path of disguises) {
    const file = nameModule(ca, `module-path=${path}`);
    const error = await t.throwsAsync(openAuthority(ca.directory, keystore(noAllowList)), { instanceOf: UsageError }, path);
    t.is(error?.code, 'MODULE_NOT_ALLOWED');
    t.true(error?.message.includes(evil.path), `the message names the module: ${error?.message}`);
    t.true(error?.message.includes(`intermediateKey in ${file}`), 'and the file and field it came from');
    t.regex(error?.hint ?? '', new RegExp(`add the line "${evil.path}" to ${noAllowList}.*--module`), 'and says how to allow it');
    t.like(error?.details, { module: evil.path, file, field: 'intermediateKey' });
  }
  const server = await t.throwsAsync(serveCa(ca.directory, keystore(noAllowList), { host: '127.0.0.1', port: 0 }), { instanceOf: UsageError });
  t.is(server?.code, 'MODULE_NOT_ALLOWED');
  t.false(evil.loaded(), "the module's code never ran");
  await ca.close();
});

test('modules registered with p11-kit are allowed: SoftHSM by its registered path or module-name issues', async (t) => {
  const ca = await testCa(t);
  const registered = registeredModules().find((m) => m.name === 'softhsm2');
  t.truthy(registered, "this machine registers SoftHSM with p11-kit (Debian's softhsm2 package does)");
  const noAllowList = join(scratch(t), 'pkcs11-modules');
  for (const query of [`module-path=${registered!.path}`, 'module-name=softhsm2']) {
    nameModule(ca, query);
    const authority = await openAuthority(ca.directory, keystore(noAllowList));
    const issued = await authority.issueNode((await nodeCsr('OU=swarm-worker, CN=node-1')).csrPem);
    t.is(issued.certificate.issuer, ca.authority.certificate.subject, query);
    await authority.ledger.close();
  }
  // The registry is what allows: a module is let in once a registry file names it, not before.
  const evil = markerModule(t);
  const registry = scratch(t);
  const requester = { file: ca.directory.path(CA_FILES.config), field: 'intermediateKey' };
  t.throws(() => requireAllowedModule(evil.path, requester, { registries: [registry], allowList: noAllowList }), { instanceOf: UsageError });
  writeFileSync(join(registry, 'marker.module'), `# p11-kit registry entry\nmodule: ${evil.path}\n`);
  t.is(requireAllowedModule(evil.path, requester, { registries: [registry], allowList: noAllowList }), evil.path);
  t.false(evil.loaded(), 'deciding loads nothing');
  await ca.close();
});

test('a vendor module listed in the allow-list works from ca.json; unlisted, the same module is refused', async (t) => {
  const ca = await testCa(t);
  // A copy of SoftHSM at a path nothing else allows: the allow-list is all that can let it in.
  const vendorDir = scratch(t);
  const vendor = join(vendorDir, 'libvendor-pkcs11.so');
  copyFileSync(realpathSync(SOFTHSM_MODULE), vendor);
  chmodSync(vendor, 0o644);
  nameModule(ca, `module-path=${vendor}`);
  const allowList = join(scratch(t), 'pkcs11-modules');
  const refused = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UsageError });
  t.is(refused?.code, 'MODULE_NOT_ALLOWED');

  writeFileSync(allowList, `# vendor HSM, allowed by the administrators\n${vendor}\n`, { mode: 0o644 });
  const authority = await openAuthority(ca.directory, keystore(allowList));
  const issued = await authority.issueNode((await nodeCsr('OU=swarm-manager, CN=node-2')).csrPem);
  t.is(issued.certificate.issuer, ca.authority.certificate.subject);
  await authority.ledger.close();

  // An allowance names a path: if others can replace the library there, it no longer holds.
  chmodSync(vendor, 0o666);
  const writable = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UsageError });
  t.is(writable?.code, 'MODULE_NOT_ALLOWED');
  t.regex(writable?.message ?? '', /writable by its group or others \(mode 666\)/);
  chmodSync(vendor, 0o644);
  chmodSync(vendorDir, 0o777);
  const dirWritable = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UsageError });
  t.regex(dirWritable?.message ?? '', new RegExp(`${vendorDir}, a directory above it, is writable by its group or others`));
  await ca.close();
});

test('the allow-list is honoured only while root owns it and nobody else can write it', async (t) => {
  const { ca, evil, allowList } = await caNamingMarker(t);
  writeFileSync(allowList, `${evil.path}\n`, { mode: 0o644 });

  chownSync(allowList, NOBODY, 0);
  const foreign = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UsageError });
  t.is(foreign?.code, 'MODULE_ALLOW_LIST_INSECURE');
  t.is(foreign?.message, `refusing to honour the PKCS#11 module allow-list ${allowList}: it is owned by uid ${NOBODY}`);
  t.regex(foreign?.hint ?? '', new RegExp(`chown root:root ${allowList}`));

  chownSync(allowList, 0, 0);
  chmodSync(allowList, 0o664);
  const groupWritable = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UsageError });
  t.is(groupWritable?.code, 'MODULE_ALLOW_LIST_INSECURE');
  t.regex(groupWritable?.message ?? '', /writable by its group or others \(mode 664\)/);
  t.false(evil.loaded(), 'an allow-list that is not safe to honour lets nothing in');

  chmodSync(allowList, 0o644);
  // Honoured now: the module is allowed and dlopen runs it (it is no PKCS#11 module, so loading then fails).
  const loaded = await t.throwsAsync(openAuthority(ca.directory, keystore(allowList)), { instanceOf: UnavailableError });
  t.is(loaded?.code, 'MODULE_LOAD_FAILED');
  t.true(evil.loaded(), 'the marker module writes its marker when it is loaded');
  await ca.close();
});

test('the module the operator chose for this run (--module, KEYWARD_PKCS11_MODULE) may be named by ca.json too', async (t) => {
  const { ca, evil, allowList: noAllowList } = await caNamingMarker(t);
  await t.throwsAsync(openAuthority(ca.directory, keystore(noAllowList)), { instanceOf: UsageError, code: 'MODULE_NOT_ALLOWED' });
  t.false(evil.loaded());
  const chosen = await t.throwsAsync(openAuthority(ca.directory, keystore(noAllowList, { module: evil.path })), { instanceOf: UnavailableError });
  t.is(chosen?.code, 'MODULE_LOAD_FAILED', 'allowed by --module, so it was loaded');
  t.true(evil.loaded());

  const other = markerModule(t); // a library's constructors run once per process: a fresh one
  nameModule(ca, `module-path=${other.path}`);
  const fromEnv = new Keystore({
    env: { KEYWARD_PIN: USER_PIN, KEYWARD_PKCS11_MODULE: other.path },
    interaction: recordingInteraction([]),
    pkcs11ModuleAllowList: noAllowList,
  });
  await t.throwsAsync(openAuthority(ca.directory, fromEnv), { instanceOf: UnavailableError, code: 'MODULE_LOAD_FAILED' });
  t.true(other.loaded(), 'allowed by KEYWARD_PKCS11_MODULE');
  await ca.close();
});

test('a p11-kit registration allows a module only while root alone can change its .module file and the directories above it', (t) => {
  const temp = (name: string) => tempDir(t, `keyward-policy-${name}-`);
  // Deciding loads nothing: a plain file stands for the vendor's library.
  const library = join(temp('lib'), 'libvendor-pkcs11.so');
  writeFileSync(library, 'not loaded\n', { mode: 0o644 });
  const registry = temp('registry');
  const file = join(registry, 'vendor.module');
  writeFileSync(file, `module: ${library}\n`, { mode: 0o644 });
  const requester = { file: '/media/ca/ca.json', field: 'intermediateKey' };
  const decide = (operatorModules: string[] = []) =>
    requireAllowedModule(library, requester, { registries: [registry], allowList: join(registry, 'no-allow-list'), operatorModules });
  t.is(decide(), library, "root's registration allows it");

  chownSync(file, NOBODY, 0);
  const foreign = t.throws(() => decide(), { instanceOf: UsageError });
  t.is(foreign?.code, 'MODULE_REGISTRY_INSECURE');
  t.is(foreign?.message, `refusing to honour the p11-kit registration ${file} of PKCS#11 module ${library}: it is owned by uid ${NOBODY}`);
  t.regex(foreign?.hint ?? '', new RegExp(`chown root:root ${file} && chmod go-w ${file}`));

  chownSync(file, 0, 0);
  chmodSync(file, 0o664);
  t.regex(
    t.throws(() => decide(), { instanceOf: UsageError })?.message ?? '',
    new RegExp(`registration ${file} .*: it is writable by its group or others \\(mode 664\\)`),
  );

  chmodSync(file, 0o644);
  chmodSync(registry, 0o777);
  t.regex(
    t.throws(() => decide(), { instanceOf: UsageError })?.message ?? '',
    new RegExp(`${registry}, a directory above it, is writable by its group or others`),
  );

  // A registration nobody may trust matters only when nothing else allows the module.
  t.is(decide([library]), library, "the operator's own choice for this run");
  chmodSync(registry, 0o700);
  t.is(decide(), library);
});
