/**
 * Files a command reads (--csr, --cert, --in, --trust-root, --intermediates, --roots,
 * --bootstrap-root, public-key files): one reader, so every error names the option and the file and
 * says what is wrong in words (not ENOENT), and content that is not what the option wants is a usage
 * error (exit 2) that says what it is instead: a certificate given as a CSR is named a certificate.
 */
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliCa, opensslCsr } from '../harness/ca.js';
import { keyward, run, type RunResult } from '../harness/run.js';
import { tempDir } from '../harness/temp.js';

function refused(t: import('ava').ExecutionContext, result: RunResult, code: number, first: string | RegExp, what: string): void {
  t.is(result.code, code, `${what}: ${result.stderr}`);
  const line = result.stderr.split('\n')[0]!;
  if (typeof first === 'string') t.is(line, first, what);
  else t.regex(line, first, what);
  t.notRegex(result.stderr, /\bE[A-Z]{3,}\b|unexpected error/, `${what}: no bare errno, no "unexpected"`);
}

test('CA inputs: a missing or unreadable file is named with the reason; a certificate given as a CSR is named a certificate', async (t) => {
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  t.is((await ca(['root', 'create', '--key', rootKey, '--generate', 'p256'])).code, 0);
  t.is((await ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', 'c1'])).code, 0);
  const files = token.store.dir;
  const rootPem = join(dir, 'root.pem');
  const rootDer = join(files, 'root.der');
  t.is((await run('openssl', ['x509', '-in', rootPem, '-outform', 'der', '-out', rootDer])).code, 0);
  const junk = join(files, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const folder = join(files, 'folder');
  mkdirSync(folder);

  refused(t, await ca(['issue', '--csr', join(files, 'nope.csr')]), 3, `keyward: --csr ${join(files, 'nope.csr')}: no such file or directory`, 'missing CSR');
  refused(t, await ca(['issue', '--csr', folder]), 2, `keyward: --csr ${folder} is a directory, not a file`, 'a directory as CSR');
  for (const file of [rootPem, rootDer]) {
    const asCsr = await ca(['issue', '--csr', file]);
    refused(
      t,
      asCsr,
      2,
      `keyward: --csr ${file}: it holds an X.509 certificate ("CN=swarm-ca"), not a certificate request (CSR)`,
      `certificate ${file} as CSR`,
    );
    t.regex(asCsr.stderr, /hint: give the certificate request \(openssl req -new … -out node\.csr\); a certificate is what the CA gives back/);
  }
  refused(
    t,
    await ca(['intermediate', 'create', '--root-key', rootKey, '--csr', rootPem, '--cluster-id', 'c1', '--out', join(files, 'x.pem')]),
    2,
    /^keyward: --csr .*root\.pem: it holds an X\.509 certificate \("CN=swarm-ca"\), not a certificate request/,
    'intermediate create',
  );
  const csr = await opensslCsr(files, 'node', '/OU=swarm-worker/CN=node-1');
  refused(
    t,
    await ca(['intermediate', 'install', '--cert', csr, '--root-dir', dir]),
    2,
    `keyward: --cert ${csr}: expected a PEM "CERTIFICATE" block, found "CERTIFICATE REQUEST"`,
    'a CSR as certificate',
  );
  refused(t, await ca(['join-token', 'verify', 'SWMTKN-1-x-y', '--roots', junk]), 2, `keyward: --roots ${junk}: it holds no certificate (PEM or DER)`, 'roots');
  refused(
    t,
    await ca(['serve', '--bootstrap-root', join(files, 'nope.pem')]),
    3,
    `keyward: --bootstrap-root ${join(files, 'nope.pem')}: no such file or directory`,
    'bootstrap root',
  );
  refused(
    t,
    await token.keyward(['cert', 'import', `pkcs11:token=${token.label};object=root`, '--in', junk]),
    2,
    `keyward: --in ${junk}: it holds no certificate (PEM or DER)`,
    'cert import',
  );
  refused(
    t,
    await token.keyward(['key', 'sign', `pkcs11:token=${token.label};object=root`, '--in', join(files, 'nope')]),
    3,
    `keyward: --in ${join(files, 'nope')}: no such file or directory`,
    'key sign --in',
  );
});

test('yubikey attest: a --trust-root that is no certificate is a usage error naming the file (exit 2, not a failed verification)', async (t) => {
  const dir = tempDir(t, 'keyward-inputs-');
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not PEM at all\n');
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: join(dir, 'no-pcscd') };
  refused(
    t,
    await keyward(['yubikey', 'attest', 'yubikey:slot=9a', '--trust-root', junk], { env }),
    2,
    `keyward: --trust-root ${junk}: it holds no certificate (PEM or DER)`,
    '--trust-root',
  );
  refused(
    t,
    await keyward(['yubikey', 'attest', 'yubikey:slot=9a', '--intermediates', junk], { env }),
    2,
    `keyward: --intermediates ${junk}: it holds no certificate (PEM or DER)`,
    '--intermediates',
  );
  refused(
    t,
    await keyward(['yubikey', 'attest', 'yubikey:slot=9a', '--trust-root', join(dir, 'nope.pem')], { env }),
    3,
    `keyward: --trust-root ${join(dir, 'nope.pem')}: no such file or directory`,
    'missing --trust-root',
  );
  refused(
    t,
    await keyward(['trust', 'repo', 'init', join(dir, 'repo'), '--root-key', junk, '--targets-key', junk, '--snapshot-key', junk, '--timestamp-key', junk]),
    2,
    `keyward: --root-key ${junk}: it holds no public key (PEM or DER)`,
    'a TUF key file',
  );
});
