/**
 * `keyward ca …` with a ca.json someone edited so that a key URI names their own code: refused
 * before it loads, with an error that says how to allow a module one does trust; what the
 * operator names on the command line is their own choice and is honoured.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registeredModules } from '../../src/hsm/pkcs11/p11-kit.js';
import { cliCa, opensslCsr } from '../harness/ca.js';
import { markerModule } from '../harness/marker-module.js';

/** A CA made by the binary, and a way to rewrite one of its ca.json key URIs to name a module. */
async function caWithModuleEdits(t: ExecutionContext) {
  const cli = await cliCa(t);
  const root = await cli.ca(['root', 'create', '--key', cli.rootKey, '--generate', 'p256']);
  const intermediate = await cli.ca([
    'intermediate',
    'create',
    '--root-key',
    cli.rootKey,
    '--key',
    cli.caKey,
    '--generate',
    'p256',
    '--cluster-id',
    'cluster-a',
  ]);
  if (root.code !== 0 || intermediate.code !== 0) throw new Error(root.stderr + intermediate.stderr);
  const file = join(cli.dir, 'ca.json');
  const nameModule = (field: 'intermediateKey' | 'rootKey', query: string) => {
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config[field] = `${config[field].split('?')[0]}?${query}`;
    writeFileSync(file, JSON.stringify(config, null, 2));
  };
  const csr = await opensslCsr(cli.token.store.dir, 'node-1', '/OU=swarm-worker/CN=node-1');
  return { ...cli, file, nameModule, csr };
}

test('keyward ca issue and ca crl refuse a module ca.json names but nobody allowed, before it loads; SoftHSM as p11-kit registers it still issues', async (t) => {
  const { ca, file, nameModule, csr } = await caWithModuleEdits(t);
  const evil = markerModule(t);
  nameModule('intermediateKey', `module-path=${evil.path}`);
  const issued = await ca(['issue', '--csr', csr]);
  t.is(issued.code, 2, issued.stderr);
  t.true(issued.stderr.includes(`refusing to load PKCS#11 module ${evil.path}: the key URI in intermediateKey in ${file} names it`), issued.stderr);
  t.true(issued.stderr.includes(`add the line "${evil.path}" to /etc/keyward/pkcs11-modules`), 'the hint says how to allow it');
  t.true(issued.stderr.includes(`--module ${evil.path}`));

  const json = await ca(['issue', '--csr', csr, '--json']);
  t.like(JSON.parse(json.stdout).error, { code: 'MODULE_NOT_ALLOWED', details: { module: evil.path, file, field: 'intermediateKey' } });
  t.is((await ca(['crl'])).code, 2, "the intermediate's CRL");

  nameModule('rootKey', `module-path=${evil.path}`);
  const rootCrl = await ca(['crl', '--issuer', 'root']);
  t.is(rootCrl.code, 2, "the root's CRL, its key URI taken from ca.json");
  t.regex(rootCrl.stderr, /rootKey in/);
  t.false(evil.loaded(), "the module's code never ran");

  // SoftHSM named by the path p11-kit registers, or by its registered name, is allowed.
  const registered = registeredModules().find((m) => m.name === 'softhsm2');
  t.truthy(registered, 'this machine registers SoftHSM with p11-kit');
  for (const query of [`module-path=${registered!.path}`, 'module-name=softhsm2']) {
    nameModule('intermediateKey', query);
    const allowed = await ca(['issue', '--csr', csr]);
    t.is(allowed.code, 0, allowed.stderr);
    t.regex(allowed.stdout, /BEGIN CERTIFICATE/);
  }
});

test('what the operator names on the command line is honoured: --module, and module-path in an argv URI', async (t) => {
  const { token, ca, nameModule, csr } = await caWithModuleEdits(t);
  const evil = markerModule(t);
  nameModule('intermediateKey', `module-path=${evil.path}`);
  t.is((await ca(['issue', '--csr', csr])).code, 2);
  t.false(evil.loaded());

  const chosen = await token.keyward(['--module', evil.path, 'ca', 'issue', '--csr', csr, '--dir', join(token.store.dir, 'ca')]);
  t.is(chosen.code, 5, 'loaded, and found to be no PKCS#11 module');
  t.regex(chosen.stderr, /cannot load PKCS#11 module/);
  t.true(evil.loaded(), 'the module the operator chose was loaded');

  evil.reset();
  const argvUri = await token.keyward(['key', 'list', `pkcs11:?module-path=${evil.path}`]);
  t.is(argvUri.code, 5);
  t.true(evil.loaded(), "a URI on the command line is the operator's choice");
});
