/**
 * Keyward and the PKCS#11 tools people already use share keys both ways: pkcs11-tool and p11tool
 * (OpenSC, GnuTLS) and OpenSSL's pkcs11 engine (libp11).
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliToken, type CliToken } from '../harness/cli-token.js';
import { run } from '../harness/run.js';

test.after.always(() => undefined);

async function p11toolUris(token: CliToken): Promise<string[]> {
  const listed = await run('p11tool', ['--provider', token.module, '--list-all', '--login', `pkcs11:token=${token.label}`], { env: token.env });
  if (listed.code !== 0) throw new Error(listed.stderr);
  return [...listed.stdout.matchAll(/URL: (pkcs11:\S+)/g)].map((m) => m[1]!);
}

test('a key made by pkcs11-tool is used by Keyward through the URI p11tool prints for it', async (t) => {
  const token = await cliToken(t);
  const made = await run(
    'pkcs11-tool',
    [
      '--module',
      token.module,
      '--token-label',
      token.label,
      '--login',
      '--pin',
      'env:KEYWARD_PIN',
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--label',
      'tool-key',
      '--id',
      '4242',
    ],
    { env: token.env },
  );
  t.is(made.code, 0, made.stderr);
  const uri = (await p11toolUris(token)).find((u) => u.includes('object=tool-key;type=private'));
  t.truthy(uri, 'p11tool lists the private key');
  t.regex(uri!, /id=%42%42/);

  const data = join(token.store.dir, 'data');
  writeFileSync(data, 'signed by Keyward with a key pkcs11-tool made\n');
  const sig = join(token.store.dir, 'data.sig');
  const pub = join(token.store.dir, 'tool.pub.pem');
  t.is((await token.keyward(['key', 'sign', uri!, '--in', data, '--out', sig])).code, 0);
  // The public key as pkcs11-tool itself exports it, so the verification owes nothing to Keyward.
  const der = join(token.store.dir, 'tool.pub.der');
  t.is(
    (
      await run('pkcs11-tool', ['--module', token.module, '--token-label', token.label, '--read-object', '--type', 'pubkey', '--id', '4242', '-o', der], {
        env: token.env,
      })
    ).code,
    0,
  );
  t.is((await run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', der, '-out', pub])).code, 0);
  const verified = await run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, data]);
  t.is(verified.stdout.trim(), 'Verified OK');
  // Keyward's own view of the key agrees.
  const listed = JSON.parse((await token.keyward(['key', 'list', uri!, '--json'])).stdout);
  t.is(listed[0].label, 'tool-key');
  t.is(listed[0].algorithm, 'p256');
});

test('a Keyward key is found by pkcs11-tool and p11tool, and OpenSSL signs with it through the pkcs11 engine', async (t) => {
  const token = await cliToken(t);
  const generated = await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=kw-key`, '--algorithm', 'p256']);
  t.is(generated.code, 0, generated.stderr);
  const uri = generated.stdout.trim();

  const objects = await run('pkcs11-tool', ['--module', token.module, '--token-label', token.label, '--login', '--pin', 'env:KEYWARD_PIN', '--list-objects'], {
    env: token.env,
  });
  t.regex(objects.stdout, /Private Key Object; EC\s+label:\s+kw-key[\s\S]*Access:\s+sensitive, always sensitive, never extractable, local/);
  t.true((await p11toolUris(token)).some((u) => u.includes('object=kw-key;type=private')));

  // OpenSSL, through libp11, with the very URI Keyward printed; the PIN from a file, not argv.
  const conf = join(token.store.dir, 'openssl.cnf');
  writeFileSync(
    conf,
    [
      'openssl_conf = openssl_init',
      '[openssl_init]',
      'engines = engine_section',
      '[engine_section]',
      'pkcs11 = pkcs11_section',
      '[pkcs11_section]',
      'engine_id = pkcs11',
      `MODULE_PATH = ${token.module}`,
      'init = 0',
      '',
    ].join('\n'),
  );
  const cert = join(token.store.dir, 'engine.crt');
  const engineKey = `${uri}?pin-source=file:${token.pinFile}`;
  const req = await run(
    'openssl',
    ['req', '-new', '-x509', '-engine', 'pkcs11', '-keyform', 'engine', '-key', engineKey, '-subj', '/CN=made by openssl', '-days', '1', '-out', cert],
    {
      env: { ...token.env, OPENSSL_CONF: conf },
    },
  );
  t.is(req.code, 0, req.stderr);
  // The certificate OpenSSL signed carries Keyward's public key, and its signature verifies.
  const pub = (await token.keyward(['key', 'public', uri])).stdout;
  const certPub = (await run('openssl', ['x509', '-in', cert, '-pubkey', '-noout'])).stdout;
  t.is(certPub, pub);
  const verified = await run('openssl', ['verify', '-CAfile', cert, cert]);
  t.regex(verified.stdout, /OK/);
  t.regex(readFileSync(cert, 'utf8'), /BEGIN CERTIFICATE/);
});

test('a certificate Keyward signs in the token with x509 passes openssl verify -x509_strict', async (t) => {
  const token = await cliToken(t);
  for (const algorithm of ['p384', 'rsa2048', 'ed25519']) {
    const uri = (await token.keyward(['key', 'generate', `pkcs11:token=${token.label};object=ca-${algorithm}`, '-a', algorithm])).stdout.trim();
    const out = join(token.store.dir, `${algorithm}.crt`);
    const signed = await token.keyward([
      'cert',
      'self-sign',
      uri,
      '--subject',
      `CN=Keyward ${algorithm} root, O=Keyward`,
      '--ca',
      '--days',
      '30',
      '--store',
      '--out',
      out,
    ]);
    t.is(signed.code, 0, signed.stderr);
    const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', out, out]);
    t.is(verified.stdout.trim(), `${out}: OK`, `${algorithm}: ${verified.stderr}`);
    // Stored beside the key: what cert show prints is what was signed.
    t.is((await token.keyward(['cert', 'show', uri])).stdout, readFileSync(out, 'utf8'));
  }
});
