/**
 * What a CI engineer gets from the package: `keyward/testing` and `keyward/ca`, installed from the
 * tarball `npm pack` makes into a scratch project. The README's CI example (taken from README.md)
 * and a cluster CA made with the CA steps compile there with a `tsc --init` tsconfig and pass under
 * `node --test`: a SoftHSM token made, a key generated in it and in a virtual YubiKey, signatures
 * verified by node:crypto, a root and intermediate made and a node certificate issued, a virtual
 * YubiKey served by the installed binary into a private pcscd and used over PC/SC. Keyward's
 * insides stay closed: a deep import is refused.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, packTarball, readmeBlocks, scratchProject, TSC } from '../harness/package.js';
import { run } from '../harness/run.js';
import { pcscdUnavailable } from '../../src/testing/pcscd.js';
import { softHsmUnavailable } from '../../src/testing/softhsm.js';

const CI_HEADING = '### In tests and CI: `keyward/testing`, `keyward/ca`';

/** A test of our own beside the README's: the CA steps from `keyward/ca`, keys in a throw-away token. */
const CA_TEST = `
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { CaDirectory, caStatus, createClusterIntermediate, createRootCa, KeyUri, openAuthority } from 'keyward/ca';
import { createTestToken } from 'keyward/testing';

test('a cluster CA from the CA steps issues a node certificate', async () => {
  const token = await createTestToken();
  const dir = mkdtempSync(join(tmpdir(), 'scratch-ca-'));
  try {
    const directory = new CaDirectory(dir);
    const rootKey = KeyUri.of(token.keyUri('root'));
    const root = await createRootCa(directory, token.keystore, { key: rootKey, generate: 'p384' });
    const intermediate = await createClusterIntermediate(directory, token.keystore, { rootKey, key: KeyUri.of(token.keyUri('cluster')), generate: 'p256', clusterId: 'cluster-a' });
    const [rootRecord] = root.certificates;
    assert.ok(rootRecord && intermediate.outputs.certificate);
    const rootCertificate = new X509Certificate(rootRecord.pem);
    const intermediateCertificate = new X509Certificate(intermediate.outputs.certificate);
    assert.ok(intermediateCertificate.verify(rootCertificate.publicKey));

    const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(algorithm, false, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=node-1, OU=swarm-worker', keys, signingAlgorithm: algorithm });
    const authority = await openAuthority(directory, token.keystore);
    try {
      const issued = await authority.issueNode(csr.toString('pem'));
      const node = new X509Certificate(Buffer.from(issued.der));
      assert.ok(node.verify(intermediateCertificate.publicKey));
      assert.match(node.subject, /O=cluster-a/);
    } finally {
      await authority.ledger.close();
    }
    const status = await caStatus(directory);
    assert.equal(status.clusterId, 'cluster-a');
    assert.ok(status.certificates.some((c) => c.profile === 'node-worker' && c.status === 'issued'));
  } finally {
    await token.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
`;

/** And a virtual YubiKey served by the installed package's own binary into a private pcscd (as root). */
const PCSCD_TEST = `
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { Keystore } from 'keyward';
import { pcscdUnavailable, recordingInteraction, serveVirtualCard, startPcscd } from 'keyward/testing';

test('a virtual YubiKey served into a private pcscd signs over PC/SC', { skip: pcscdUnavailable() }, async () => {
  const rig = await startPcscd();
  try {
    const card = await serveVirtualCard(rig, { serial: 23456789 });
    const keystore = new Keystore({ env: { ...rig.env, KEYWARD_PIN: '123456' }, interaction: recordingInteraction([]) });
    try {
      const key = await keystore.generate('yubikey:serial=23456789;slot=9a', { algorithm: 'p256' });
      assert.equal(key.info.uri.startsWith('yubikey:serial=23456789'), true);
      const message = Buffer.from('over PC/SC');
      const signature = await key.sign(message);
      const publicKey = createPublicKey({ key: Buffer.from(await key.publicKey()), format: 'der', type: 'spki' });
      assert.ok(verify('sha256', message, publicKey, signature));
    } finally {
      await keystore.close();
      await card.stop();
    }
  } finally {
    await rig.stop();
  }
});
`;

test('the README CI example and the CA steps run from the installed tarball under node --test', async (t) => {
  const unavailable = softHsmUnavailable();
  if (unavailable) return t.fail(unavailable);
  const blocks = readmeBlocks(CI_HEADING);
  t.is(blocks.length, 1);
  const dir = await scratchProject(t, await packTarball(t), { link: ['typescript', '@types/node'] });
  t.is((await run(process.execPath, [TSC, '--init'], { cwd: dir })).code, 0);
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(tsconfig, readFileSync(tsconfig, 'utf8').replace(/^(\s*)"types": \[\],$/m, '$1"types": ["node"],'));
  writeFileSync(join(dir, 'ci.test.ts'), blocks[0]!);
  writeFileSync(join(dir, 'ca.test.ts'), CA_TEST);
  writeFileSync(join(dir, 'pcscd.test.ts'), PCSCD_TEST);

  const compiled = await run(process.execPath, [TSC, '-p', '.', '--outDir', 'build'], { cwd: dir });
  t.is(compiled.stdout + compiled.stderr, '', 'both compile with the defaults and the package typings');

  const ran = await run(process.execPath, ['--test', 'build/ci.test.js', 'build/ca.test.js', 'build/pcscd.test.js'], { cwd: dir, env: cleanEnv() });
  t.is(ran.code, 0, ran.stdout + ran.stderr);
  // CI runs as root with pcscd and vsmartcard-vpcd; elsewhere the PC/SC test says why it skipped.
  const pcscd = pcscdUnavailable() ? 0 : 1;
  t.regex(ran.stdout, new RegExp(`^# pass ${3 + pcscd}$`, 'm'), ran.stdout);
  t.regex(ran.stdout, new RegExp(`^# skipped ${1 - pcscd}$`, 'm'), 'SoftHSM is here: only the PC/SC test may skip');
  t.regex(ran.stdout, /^# fail 0$/m);
});

test("the subpaths resolve from the installed package; Keyward's insides are refused", async (t) => {
  const dir = await scratchProject(t, await packTarball(t));
  const probe = (specifier: string) =>
    run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).sort().join(' '))`], {
      cwd: dir,
      env: cleanEnv(),
    });
  const testing = await probe('keyward/testing');
  t.is(testing.code, 0, testing.stderr);
  for (const name of [
    'createTestToken',
    'createTestYubiKey',
    'createSoftHsmStore',
    'serveVirtualYubiKey',
    'startPcscd',
    'serveVirtualCard',
    'startDockerd',
    'freePort',
    'VirtualYubiKey',
    'opensslVerifySignature',
    'mtlsHandshake',
    'serveDirectory',
  ]) {
    t.true(testing.stdout.split(' ').includes(name), name);
  }
  const ca = await probe('keyward/ca');
  t.is(ca.code, 0, ca.stderr);
  for (const name of ['CaDirectory', 'createRootCa', 'createClusterIntermediate', 'revokeCertificate', 'beginRootRotation', 'openAuthority']) {
    t.true(ca.stdout.split(' ').includes(name), name);
  }
  t.is((await probe('keyward')).code, 0);
  for (const deep of ['keyward/dist/src/keystore/keystore.js', 'keyward/dist/src/testing/index.js', 'keyward/src/index.ts', 'keyward/testing/softhsm']) {
    const refused = await probe(deep);
    t.not(refused.code, 0, deep);
    t.regex(refused.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/, deep);
  }
});
