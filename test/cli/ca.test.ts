/** `keyward ca …` end to end: the binary, SoftHSM tokens for the offline root and the online CA, OpenSSL as the judge. */
import test, { type ExecutionContext } from 'ava';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { cliCa, opensslCsr as csr, pemFiles } from '../harness/ca.js';
import { run } from '../harness/run.js';
import { caServeProcess } from '../harness/ca-server.js';

test('root, intermediate, issue, status with renewal times, revoke, CRL: the whole CA from the command line', async (t) => {
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  const root = await ca(['root', 'create', '--key', rootKey, '--generate', 'p384']);
  t.is(root.code, 0, root.stderr);
  t.regex(root.stdout, /root certificate "CN=swarm-ca" issued by "CN=swarm-ca"\n {2}serial [0-9a-f]+, valid until 20[4-9]\d/);
  t.regex(root.stdout, /root key made: pkcs11:.*\n.*\n {2}public key sha256 [0-9a-f]{64}/);
  t.is((await ca(['root', 'create', '--key', rootKey])).code, 7, 'a second root is refused');
  const intermediate = await ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', 'cluster-a']);
  t.is(intermediate.code, 0, intermediate.stderr);
  t.is(
    (await ca(['intermediate', 'create', '--root-key', rootKey, '--key', `${caKey}-2`, '--generate', 'p256', '--cluster-id', 'cluster-b'])).code,
    7,
    'one cluster per CA directory',
  );

  const file = await csr(token.store.dir, 'node-1', '/OU=swarm-manager/CN=node-1');
  const out = join(token.store.dir, 'node-1.crt');
  const issued = await ca(['issue', '--csr', file, '--out', out]);
  t.is(issued.code, 0, issued.stderr);
  const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'roots.pem'), '-untrusted', out, out]);
  t.is(verified.stdout.trim(), `${out}: OK`);
  t.is((await ca(['issue', '--csr', '/etc/hostname'])).code, 2, 'a file that is no CSR: usage error');

  const status = JSON.parse((await ca(['status', '--json'])).stdout);
  t.is(status.clusterId, 'cluster-a');
  const fingerprint = await run('openssl', ['x509', '-in', join(dir, 'cluster-ca.pem'), '-noout', '-fingerprint', '-sha256']);
  t.is(
    status.clusterCa.sha256,
    fingerprint.stdout.trim().split('=')[1]!.replace(/:/g, '').toLowerCase(),
    "the cluster CA's fingerprint, to record in the ceremony",
  );
  const node = status.certificates.find((c: { subject: string }) => c.subject.includes('node-1'));
  t.is(node.status, 'issued');
  t.true(Date.parse(node.renewAt) < Date.parse(node.notAfter), 'renewal comes before expiry');
  t.deepEqual(status.certificates.map((c: { profile: string }) => c.profile).sort(), ['cluster-ca', 'intermediate', 'node-manager', 'root']);

  const revoked = await ca(['revoke', node.serial, '--reason', 'superseded']);
  t.is(revoked.code, 0, revoked.stderr);
  const crlFile = join(token.store.dir, 'crl.pem');
  t.is((await ca(['crl', '--out', crlFile])).code, 0);
  const crl = await run('openssl', ['crl', '-in', crlFile, '-noout', '-text']);
  t.regex(crl.stdout, /Superseded/);
  t.regex(readFileSync(join(dir, 'crl', 'root.crl.pem'), 'utf8'), /BEGIN X509 CRL/);
});

test("a split ceremony: the intermediate's key stays online, only its CSR and certificate travel", async (t) => {
  const { token, rootKey, caKey } = await cliCa(t);
  const offline = join(token.store.dir, 'offline-ca');
  const online = join(token.store.dir, 'online-ca');
  const at = (dir: string) => (args: string[]) => token.keyward(['ca', ...args, '--dir', dir]);
  const [offlineCa, onlineCa] = [at(offline), at(online)];
  const file = (name: string) => join(token.store.dir, name);
  /** The ceremony's step, offline: the root `key` signs the CSR file `request` for the cluster `clusterId`, into `out`. */
  const signRequest = (key: string, request: string, clusterId: string, out: string) =>
    offlineCa(['intermediate', 'create', '--root-key', key, '--csr', file(request), '--cluster-id', clusterId, '--out', file(out)]);
  t.is((await offlineCa(['root', 'create', '--key', rootKey, '--generate', 'p384'])).code, 0);

  const request = await onlineCa(['intermediate', 'request', '--key', caKey, '--generate', 'p256', '--cluster-id', 'split-1', '--out', file('cluster.csr')]);
  t.is(request.code, 0, request.stderr);
  t.is(
    (await onlineCa(['issue', '--csr', await csr(token.store.dir, 'early', '/OU=swarm-worker/CN=early')])).code,
    3,
    'no issuing before the certificate is installed',
  );

  // In the ceremony: the root signs the CSR, for the cluster the witnesses confirm, and no other.
  const wrongCluster = await signRequest(rootKey, 'cluster.csr', 'split-2', 'wrong.pem');
  t.is(wrongCluster.code, 2);
  t.regex(wrongCluster.stderr, /made for cluster "split-1", not "split-2"/);
  const signed = await signRequest(rootKey, 'cluster.csr', 'split-1', 'cluster.pem');
  t.is(signed.code, 0, signed.stderr);
  t.false(existsSync(join(offline, 'intermediate.pem')), "the offline directory stays the root's");

  // Back online: only this CSR's certificate, issued by the root carried along, is accepted.
  const otherRoot = join(token.store.dir, 'other-root');
  await at(otherRoot)(['root', 'create', '--key', `pkcs11:token=${token.label};object=other-root`, '--generate', 'p256']);
  const untrusted = await onlineCa(['intermediate', 'install', '--cert', file('cluster.pem'), '--root-dir', otherRoot]);
  t.is(untrusted.code, 6);
  t.regex(untrusted.stderr, /not issued by a root of/);
  const otherKey = await onlineCa(['intermediate', 'install', '--cert', join(offline, 'root.pem'), '--root-dir', offline]);
  t.is(otherKey.code, 2);
  t.regex(otherKey.stderr, /not for the waiting key/);
  const installed = await onlineCa(['intermediate', 'install', '--cert', file('cluster.pem'), '--root-dir', offline]);
  t.is(installed.code, 0, installed.stderr);

  const out = file('node.crt');
  t.is((await onlineCa(['issue', '--csr', await csr(token.store.dir, 'node', '/OU=swarm-worker/CN=node-9'), '--out', out])).code, 0);
  const verified = await run('openssl', [
    'verify',
    '-x509_strict',
    '-CAfile',
    join(online, 'roots.pem'),
    '-CRLfile',
    join(online, 'crl', 'root.crl.pem'),
    '-untrusted',
    out,
    out,
  ]);
  t.is(verified.stdout.trim(), `${out}: OK`);
  const profiles = (dir: (args: string[]) => Promise<{ stdout: string }>) =>
    dir(['status', '--json']).then((r) =>
      JSON.parse(r.stdout)
        .certificates.map((c: { profile: string }) => c.profile)
        .sort(),
    );
  t.deepEqual(await profiles(offlineCa), ['intermediate', 'root'], "the root's ledger records the intermediate");
  t.deepEqual(await profiles(onlineCa), ['cluster-ca', 'node-worker'], "the cluster CA's ledger records its own self-signed certificate and its nodes");

  // A root rotation the same way: the new root signs a new CSR; both trust paths hold until finish.
  const newRoot = `pkcs11:token=${token.label};object=root-2`;
  t.is((await offlineCa(['rotate-root', 'begin', '--new-key', newRoot, '--generate', 'p384'])).code, 0);
  t.is(
    (await onlineCa(['intermediate', 'request', '--key', `${caKey}-2`, '--generate', 'p256', '--cluster-id', 'split-1', '--out', file('cluster-2.csr')])).code,
    0,
  );
  t.is((await signRequest(newRoot, 'cluster-2.csr', 'split-1', 'cluster-2.pem')).code, 0);
  t.is((await onlineCa(['intermediate', 'install', '--cert', file('cluster-2.pem'), '--root-dir', offline])).code, 0);
  const rotated = file('node-2.crt');
  t.is((await onlineCa(['issue', '--csr', await csr(token.store.dir, 'node-2', '/OU=swarm-worker/CN=node-2'), '--out', rotated])).code, 0);
  for (const trust of ['previous-root.pem', 'root.pem']) {
    t.is(
      (await run('openssl', ['verify', '-x509_strict', '-CAfile', join(online, trust), '-untrusted', rotated, rotated])).code,
      0,
      `a client trusting only ${trust}`,
    );
  }
  t.is((await onlineCa(['rotate-root', 'finish'])).code, 0);
  t.is((await offlineCa(['rotate-root', 'finish'])).code, 0);
  t.is(readFileSync(join(online, 'roots.pem'), 'utf8'), readFileSync(join(offline, 'root.pem'), 'utf8'), 'only the new root is trusted');
});

test('join tokens and root rotation from the command line', async (t) => {
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  await ca(['root', 'create', '--key', rootKey, '--generate', 'p256']);
  await ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', 'c1']);
  const joinToken = (await ca(['join-token', 'create'])).stdout.trim();
  t.regex(joinToken, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  t.is((await ca(['join-token', 'verify', joinToken])).code, 0);
  t.is((await ca(['join-token', 'verify', 'SWMTKN-1-nope'])).code, 2);

  const newRoot = `pkcs11:token=${token.label};object=root-2`;
  const begin = await ca(['rotate-root', 'begin', '--new-key', newRoot, '--generate', 'p256']);
  t.is(begin.code, 0, begin.stderr);
  t.is((await ca(['join-token', 'verify', joinToken])).code, 6, 'the root bundle changed: old tokens no longer pin it');
  t.is((await ca(['rotate-root', 'finish'])).code, 7, 'not before the intermediate moved');
  t.is((await ca(['intermediate', 'create', '--root-key', newRoot, '--key', `${caKey}-2`, '--generate', 'p256', '--cluster-id', 'c1'])).code, 0);
  const file = await csr(token.store.dir, 'n', '/OU=swarm-worker/CN=n');
  const out = join(token.store.dir, 'n.crt');
  await ca(['issue', '--csr', file, '--out', out]);
  t.is(
    (await run('openssl', ['verify', '-CAfile', join(dir, 'previous-root.pem'), '-untrusted', out, out])).code,
    0,
    'old-root clients verify through the cross-signed root in the chain',
  );
  t.is((await ca(['rotate-root', 'finish'])).code, 0);
  t.is((await run('openssl', ['verify', '-CAfile', join(dir, 'roots.pem'), '-untrusted', out, out])).code, 0);
  t.true(JSON.parse((await ca(['status', '--json'])).stdout).roots.length === 1);
});

test('--years counts calendar years, leap days included: root create and rotate-root begin', async (t) => {
  const { token, rootKey, ca } = await cliCa(t);
  /** The certificate's validity in years when it ends on the same date and time as its start, else undefined. */
  const calendarYears = (pem: string) => {
    const certificate = new X509Certificate(pem);
    const [from, to] = [new Date(certificate.validFrom), new Date(certificate.validTo)];
    const years = to.getUTCFullYear() - from.getUTCFullYear();
    const same = new Date(from);
    same.setUTCFullYear(from.getUTCFullYear() + years);
    // notBefore and notAfter come from one reading of the clock.
    return same.getTime() === to.getTime() ? years : `${from.toISOString()} → ${to.toISOString()}`;
  };
  const root = await ca(['root', 'create', '--key', rootKey, '--generate', 'p256', '--years', '20', '--json']);
  t.is(root.code, 0, root.stderr);
  t.is(calendarYears(JSON.parse(root.stdout).certificates[0].pem), 20, '20 years, not 20 × 365 days (five leap days short)');
  const begin = await ca(['rotate-root', 'begin', '--new-key', `pkcs11:token=${token.label};object=root-2`, '--generate', 'p256', '--years', '4', '--json']);
  t.is(begin.code, 0, begin.stderr);
  t.is(calendarYears(JSON.parse(begin.stdout).certificates.find((c: { profile: string }) => c.profile === 'root').pem), 4);
  t.is((await ca(['root', 'create', '--key', rootKey, '--years', '0', '--dir', join(token.store.dir, 'zero')])).code, 2, 'no validity is no certificate');
});

test('serve refuses set-ups that would sign for strangers, before asking for any PIN', async (t) => {
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  await ca(['root', 'create', '--key', rootKey, '--generate', 'p256']);
  await ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', 'c1']);
  const refusals: Array<[string[], RegExp]> = [
    [['--client-auth', 'managers', '--listen', '127.0.0.1:0'], /client certificates need HTTPS/],
    [['--listen', '0.0.0.0:0'], /plain HTTP on 0\.0\.0\.0/],
    [['--listen', '0.0.0.0:0', '--tls'], /refusing to sign for anyone who can reach 0\.0\.0\.0[\s\S]*--client-auth managers/],
    [['--listen', '127.0.0.1:0', '--require-authsign'], /no HMAC key was given/],
    // Not hex, or too short: decoded, it would be an HMAC key anyone could guess.
    [
      ['--listen', '127.0.0.1:0', '--auth-key-source', pemFiles(token.store.dir, { 'auth.key': 'not-hex-at-all\n' })['auth.key']!],
      /must be hex, at least 32 hex digits/,
    ],
    [['--listen', '127.0.0.1:0', '--auth-key-source', pemFiles(token.store.dir, { 'short.key': '0011223344\n' })['short.key']!], /must be hex/],
  ];
  for (const [options, message] of refusals) {
    // No PIN anywhere: a server that opened the CA key first would fail for want of one (exit 4).
    const refused = await token.keyward(['--no-input', 'ca', 'serve', ...options, '--dir', dir], {
      env: { ...token.env, KEYWARD_PIN: undefined, KEYWARD_CA_AUTH_KEY: undefined },
    });
    t.is(refused.code, 2, options.join(' '));
    t.regex(refused.stderr, message);
  }
});

test('commands that need a CA say a directory that is not one is not a CA directory, and create nothing there', async (t) => {
  const { token, dir, rootKey } = await cliCa(t);
  const typo = `${dir}-typo`;
  const request = await csr(token.store.dir, 'typo', '/OU=swarm-worker/CN=typo');
  const commands = [
    ['status'],
    ['revoke', '0a0b'],
    ['issue', '--csr', request],
    ['serve'],
    ['crl'],
    ['crl', '--issuer', 'root', '--root-key', rootKey],
    ['join-token', 'create'],
    ['join-token', 'verify', 'SWMTKN-1-x-y'],
    ['rotate-root', 'begin', '--new-key', `${rootKey}-2`],
    ['rotate-root', 'finish'],
    ['intermediate', 'install', '--cert', '/etc/ssl/certs/ca-certificates.crt', '--root-dir', dir],
    ['swarm-command', '--url', 'https://ca.example:8888', '--no-check'],
  ];
  for (const args of commands) {
    const result = await token.keyward(['ca', ...args, '--dir', typo]);
    t.is(result.code, 3, `${args.join(' ')}: ${result.stderr}`);
    t.is(result.stderr.split('\n')[0], `keyward: ${typo} is not a Keyward CA directory (it has no ca.json)`, args.join(' '));
    t.false(existsSync(typo), `${args.join(' ')} created nothing`);
  }
});

/** A CLI-made CA for cluster c1 served by `keyward ca serve` as a process, once it says where it listens. */
async function servedCliCa(t: ExecutionContext, drainSeconds: number) {
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  await ca(['root', 'create', '--key', rootKey, '--generate', 'p256']);
  await ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', 'c1']);
  const serve = await caServeProcess(['--drain', String(drainSeconds), '--dir', dir], token.env);
  return { token, dir, ...serve };
}

/** A request the server has taken (it answered 100 Continue to the headers) whose body is still to come. */
async function requestInFlight(port: number, contentLength: number) {
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(Buffer.concat(received).toString())));
  socket.write(
    `POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\nExpect: 100-continue\r\n\r\n`,
  );
  while (!Buffer.concat(received).toString().includes('100 Continue')) await new Promise((r) => setTimeout(r, 20));
  return { socket, closed };
}

test('serve: SIGTERM lets the request in flight finish, refuses new connections, and exits 0; a port in use is named', async (t) => {
  const serve = await servedCliCa(t, 20);
  t.teardown(() => serve.child.kill('SIGKILL'));
  const body = JSON.stringify({ certificate_request: readFileSync(await csr(serve.token.store.dir, 'inflight', '/OU=swarm-worker/CN=inflight'), 'utf8') });
  const inFlight = await requestInFlight(serve.port, body.length);
  inFlight.socket.write(body.slice(0, 100));

  serve.child.kill('SIGTERM');
  while (!serve.stderr().includes('SIGTERM: no new connections')) await new Promise((r) => setTimeout(r, 20));
  await t.throwsAsync(
    new Promise((resolve, reject) => connect(serve.port, '127.0.0.1').on('connect', resolve).on('error', reject)),
    { code: 'ECONNREFUSED' },
    'no new connections once draining',
  );
  inFlight.socket.write(body.slice(100)); // not end(): a half-closed client has its request aborted by Node
  t.regex(await inFlight.closed, /HTTP\/1\.1 200[\s\S]*"success":true/, 'the request in flight was answered');
  t.is(await serve.exited, 0);

  // The port is taken: say so, exit 5 (unavailable).
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const taken = (blocker.address() as { port: number }).port;
  const refused = await serve.token.keyward(['ca', 'serve', '--listen', `127.0.0.1:${taken}`, '--dir', serve.dir]);
  blocker.close();
  t.is(refused.code, 5);
  t.regex(refused.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: another process uses that port`));
});

test('serve: a request that never finishes is cut off after --drain, and the server still exits', async (t) => {
  const serve = await servedCliCa(t, 1);
  t.teardown(() => serve.child.kill('SIGKILL'));
  const stalled = await requestInFlight(serve.port, 1000);
  serve.child.kill('SIGTERM');
  t.is(await serve.exited, 0);
  t.is(await stalled.closed, 'HTTP/1.1 100 Continue\r\n\r\n', 'cut off: nothing after the 100 Continue (a 408 would be the request timeout, not the drain)');
});
