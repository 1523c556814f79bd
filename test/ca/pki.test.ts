/**
 * The cluster PKI on SoftHSM, checked by OpenSSL and GnuTLS: root → intermediate → node chains,
 * SwarmKit's certificate shape, name constraints, CSR policy, revocation, rotation, join tokens.
 */
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { createJoinToken, parseJoinToken, verifyJoinToken } from '../../src/ca/join-token.js';
import { createClusterIntermediate } from '../../src/ca/steps/intermediate.js';
import { revokeCertificate, signIntermediateCrl, signRootCrl } from '../../src/ca/steps/revocation.js';
import { beginRootRotation, finishRootRotation } from '../../src/ca/steps/rotation.js';
import { Authority, openAuthority } from '../../src/ca/authority.js';
import { checkCsr } from '../../src/ca/csr.js';
import { renewalTime } from '../../src/ca/renewal.js';
import { CA_FILES } from '../../src/ca/store.js';
import { ConflictError, UsageError, VerificationError } from '../../src/errors.js';
import { certificatePem } from '../../src/x509/certificate.js';
import { keyIdentifierOf } from '../../src/x509/key-identifier.js';
import * as x509 from '../../src/x509/peculiar.js';
import { SigningKey } from '../../src/certificates/signer.js';
import { KeyUri } from '../../src/keystore/uri/origin.js';
import { toPem } from '../../src/x509/pem.js';
import { forgeForeignNode, nodeCsr, pemFiles, testCa, type TestCa } from '../harness/ca.js';
import { run } from '../harness/run.js';
import { tempDir, type Teardown } from '../harness/temp.js';

const scratch = (t: Teardown) => tempDir(t, 'keyward-pki-');

/**
 * `openssl verify -x509_strict` of a leaf certificate (PEM) as a relying party of `ca` checks it:
 * the CA's roots trusted, its intermediate given as untrusted. `leaf`: the file openssl names.
 */
async function opensslVerify(t: Teardown, ca: TestCa, leafPem: string) {
  const files = pemFiles(scratch(t), {
    'leaf.pem': leafPem,
    'intermediate.pem': ca.directory.read(CA_FILES.intermediate)!,
    'roots.pem': ca.directory.rootBundle(),
  });
  const result = await run('openssl', ['verify', '-x509_strict', '-CAfile', files['roots.pem']!, '-untrusted', files['intermediate.pem']!, files['leaf.pem']!]);
  return { ...result, leaf: files['leaf.pem']! };
}

test('root → intermediate → node: openssl verify -x509_strict and GnuTLS certtool accept the chain', async (t) => {
  const ca = await testCa(t);
  const node = await nodeCsr('OU=swarm-manager, CN=node-1');
  const issued = await ca.authority.issueNode(node.csrPem);
  const openssl = await opensslVerify(t, ca, certificatePem(issued.certificate));
  t.is(openssl.stdout.trim(), `${openssl.leaf}: OK`, openssl.stderr);
  const chain = pemFiles(scratch(t), {
    'chain.pem': certificatePem(issued.certificate) + ca.directory.read(CA_FILES.intermediate)! + ca.directory.read(CA_FILES.root)!,
  });
  const gnutls = await run('certtool', ['--verify-chain', '--infile', chain['chain.pem']!]);
  t.is(gnutls.code, 0, gnutls.stdout + gnutls.stderr);
  t.regex(gnutls.stdout, /Chain verification output: Verified/);
  await ca.close();
});

test("the cluster CA a swarm trusts: self-signed, the subject and key of the root's certificate for it, kept when that is issued again; a node verifies to either anchor", async (t) => {
  const ca = await testCa(t);
  const clusterCa = new x509.X509Certificate(ca.directory.read(CA_FILES.clusterCa)!);
  const intermediate = ca.directory.intermediate();
  t.true(
    Buffer.from(clusterCa.subjectName.toArrayBuffer()).equals(Buffer.from(intermediate.subjectName.toArrayBuffer())),
    'the same subject, byte for byte (SwarmKit compares RawSubject)',
  );
  t.true(Buffer.from(clusterCa.publicKey.rawData).equals(Buffer.from(intermediate.publicKey.rawData)), 'the same key');
  t.is(clusterCa.subject, clusterCa.issuer, 'self-signed, as SwarmKit takes a --ca-cert');
  t.is(clusterCa.notAfter.getTime(), intermediate.notAfter.getTime(), 'they expire together');
  // The root's certificate keeps the cluster constraint, not critical: Go refuses a critical directoryName constraint.
  const constraint = intermediate.extensions.find((e) => e.type === '2.5.29.30');
  t.truthy(constraint);
  t.false(constraint!.critical);
  t.falsy(
    clusterCa.extensions.find((e) => e.type === '2.5.29.30'),
    "the swarm's own anchor needs no constraint: the swarm trusts nothing else",
  );
  const issued = await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=node-1')).csrPem);
  const files = pemFiles(scratch(t), {
    'node.pem': certificatePem(issued.certificate),
    'cluster-ca.pem': certificatePem(clusterCa),
    'intermediate.pem': certificatePem(intermediate),
    'roots.pem': ca.directory.rootBundle(),
  });
  for (const args of [
    ['-CAfile', files['cluster-ca.pem']!],
    ['-CAfile', files['roots.pem']!, '-untrusted', files['intermediate.pem']!],
  ]) {
    const verified = await run('openssl', ['verify', '-x509_strict', ...args, files['node.pem']!]);
    t.is(verified.stdout.trim(), `${files['node.pem']}: OK`, verified.stderr);
  }
  // The root certifies the same key again (after a root rotation, say): the swarm's anchor stays as it is.
  await createClusterIntermediate(ca.directory, ca.keystore, {
    rootKey: KeyUri.of(ca.rootKey),
    key: KeyUri.of(`pkcs11:token=${ca.tokens.online};object=intermediate`),
    clusterId: ca.clusterId,
  });
  t.not(ca.directory.read(CA_FILES.intermediate), certificatePem(intermediate), 'a new certificate from the root');
  t.is(ca.directory.read(CA_FILES.clusterCa), certificatePem(clusterCa), 'the same cluster CA certificate');
  await ca.close();
});

test("node certificates have SwarmKit's shape; the CA, not the CSR, decides the subject", async (t) => {
  const ca = await testCa(t);
  // The CSR asks for extra names and attributes: they must not reach the certificate.
  const node = await nodeCsr(`CN=node-7, OU=swarm-worker, O=${ca.clusterId}, C=XX, L=Elsewhere`);
  const issued = await ca.authority.issueNode(node.csrPem);
  const cert = new X509Certificate(Buffer.from(issued.certificate.rawData));
  t.is(cert.subject, `O=${ca.clusterId}\nOU=swarm-worker\nCN=node-7`);
  t.is(cert.subjectAltName, 'DNS:swarm-worker, DNS:node-7');
  t.is(cert.ca, false);
  t.deepEqual(cert.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  t.is(Math.round(days), 90);
  t.true(cert.serialNumber.replace(/^0+/, '').length >= 16, 'serials carry at least 64 random bits');
  const text = (await run('openssl', ['x509', '-noout', '-text'], { input: issued.certificate.toString('pem') })).stdout;
  t.regex(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  t.regex(text, /Basic Constraints: critical\s+CA:FALSE/);
  // Key identifiers chain the node to its issuer (RFC 5280 method 1, as the CA's own certificates).
  t.is(issued.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId, keyIdentifierOf((await checkCsr(node.csrPem)).spki).toString('hex'));
  t.is(
    issued.certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
    ca.authority.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
  );
  const manager = await ca.authority.issueNode((await nodeCsr('OU=swarm-manager, CN=m-1')).csrPem);
  t.is(new X509Certificate(Buffer.from(manager.certificate.rawData)).subjectAltName, 'DNS:swarm-manager, DNS:m-1, DNS:swarm-ca');
  // Renewal is due between 50% and 80% of the validity.
  const span = issued.certificate.notAfter.getTime() - issued.certificate.notBefore.getTime();
  const at = (issued.renewAt.getTime() - issued.certificate.notBefore.getTime()) / span;
  t.true(at >= 0.5 && at <= 0.8, `renewal at ${at}`);
  await ca.close();
});

test('renewal times are spread over the whole 50–80% window', (t) => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-04-01T00:00:00Z');
  t.is(renewalTime(notBefore, notAfter, () => 0).getTime(), notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * 0.5);
  t.is(renewalTime(notBefore, notAfter, () => 1).getTime(), notBefore.getTime() + Math.floor((notAfter.getTime() - notBefore.getTime()) * 0.8));
  const fractions = Array.from(
    { length: 400 },
    () => (renewalTime(notBefore, notAfter).getTime() - notBefore.getTime()) / (notAfter.getTime() - notBefore.getTime()),
  );
  t.true(fractions.every((f) => f >= 0.5 && f <= 0.8));
  t.true(Math.min(...fractions) < 0.55 && Math.max(...fractions) > 0.75, 'random, not fixed');
});

test("a certificate for another cluster, signed with the intermediate's key, is rejected by OpenSSL (name constraint)", async (t) => {
  const ca = await testCa(t);
  const node = await nodeCsr('CN=intruder');
  const foreign = await forgeForeignNode(ca, node.csrPem, 'other-cluster', 'swarm-manager', 'intruder');
  const openssl = await opensslVerify(t, ca, foreign.toString('pem'));
  t.not(openssl.code, 0);
  t.regex(openssl.stdout + openssl.stderr, /permitted subtree violation/);
  await ca.close();
});

test('CSR policy: wrong cluster, unknown role, bad node ID, weak or odd keys, forged signatures are refused', async (t) => {
  const ca = await testCa(t);
  await t.throwsAsync(ca.authority.issueNode((await nodeCsr('O=elsewhere, OU=swarm-worker, CN=n1')).csrPem), {
    instanceOf: UsageError,
    message: /asks for cluster "elsewhere"/,
  });
  await t.throwsAsync(ca.authority.issueNode((await nodeCsr('OU=admin, CN=n1')).csrPem), { instanceOf: UsageError, message: /"admin" is not a node role/ });
  await t.throwsAsync(ca.authority.issueNode((await nodeCsr('CN=n1')).csrPem), { instanceOf: UsageError, message: /no node role/ });
  await t.throwsAsync(ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=bad id with spaces')).csrPem), {
    instanceOf: UsageError,
    message: /not a valid node ID/,
  });
  t.is((await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=rsa-node', 'rsa2048')).csrPem)).certificate.subject.includes('rsa-node'), true);
  t.truthy(await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=ed-node', 'ed25519')).csrPem));
  const weak = (await run('openssl', ['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', '/dev/null', '-subj', '/OU=swarm-worker/CN=weak'])).stdout;
  await t.throwsAsync(ca.authority.issueNode(weak), { instanceOf: UsageError, message: /not allowed/ });
  const k1 = (
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:secp256k1',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-subj',
      '/OU=swarm-worker/CN=k1',
    ])
  ).stdout;
  await t.throwsAsync(ca.authority.issueNode(k1), { instanceOf: UsageError, message: /not allowed/ });
  // A CSR whose signature does not match: flip a byte in the signature.
  const good = (await nodeCsr('OU=swarm-worker, CN=forged')).csrPem;
  const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] ^= 0x01;
  await t.throwsAsync(ca.authority.issueNode(toPem('CERTIFICATE REQUEST', der)), { instanceOf: VerificationError });
  await t.throwsAsync(ca.authority.issueNode('-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n'), {
    instanceOf: UsageError,
    message: /does not decode/,
  });
  // A node certificate may not outlive the intermediate (5 years): it would stop verifying early, without a word.
  await t.throwsAsync(ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=n9')).csrPem, { days: 10 * 365 }), {
    instanceOf: UsageError,
    message: /would outlive its issuer/,
  });
  t.is((await ca.authority.ledger.list()).filter((e) => e.profile.startsWith('node')).length, 2, 'only the two good requests were issued');
  await ca.close();
});

test('revocation: the CRL parses with openssl crl, and openssl verify -crl_check rejects the revoked node', async (t) => {
  const ca = await testCa(t);
  const keep = await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=keep')).csrPem);
  const revoke = await ca.authority.issueNode((await nodeCsr('OU=swarm-worker, CN=revoke')).csrPem);
  const revoked = await revokeCertificate(ca.directory, { serial: revoke.serial, reason: 'keyCompromise' });
  const [entry] = revoked.ledger;
  const which = revoked.outputs.crl;
  t.like(entry, { status: 'revoked', reason: 'keyCompromise' });
  t.is(which, 'intermediate');
  await ca.close();
  const [crl] = (await signIntermediateCrl(ca.directory, ca.keystore)).crls;
  t.is(crl!.revoked, 1);
  const dir = scratch(t);
  const files = pemFiles(dir, {
    'crl.pem': crl!.pem + ca.directory.read('crl/root.crl.pem')!,
    'intermediate.pem': ca.directory.read(CA_FILES.intermediate)!,
    'roots.pem': ca.directory.rootBundle(),
    'keep.pem': certificatePem(keep.certificate),
    'revoked.pem': certificatePem(revoke.certificate),
  });
  const parsed = await run('openssl', ['crl', '-noout', '-text'], { input: crl!.pem });
  t.regex(parsed.stdout, new RegExp(`Serial Number: ${revoke.serial.toUpperCase().padStart(32, '0')}`));
  t.regex(parsed.stdout, /Key Compromise/);
  const verify = (file: string) =>
    run('openssl', [
      'verify',
      '-x509_strict',
      '-crl_check_all',
      '-CRLfile',
      files['crl.pem']!,
      '-CAfile',
      files['roots.pem']!,
      '-untrusted',
      files['intermediate.pem']!,
      file,
    ]);
  t.is((await verify(files['keep.pem']!)).code, 0);
  const rejected = await verify(files['revoked.pem']!);
  t.not(rejected.code, 0);
  t.regex(rejected.stdout + rejected.stderr, /certificate revoked/);
});

test('root rotation: leaves of the new root verify for clients holding only the old root, and only the new one', async (t) => {
  const ca = await testCa(t);
  const newRootKey = KeyUri.of(`pkcs11:token=${ca.tokens.root};object=root-2`);
  const begun = await beginRootRotation(ca.directory, ca.keystore, { newKey: newRootKey, generate: 'p256' });
  const [root, crossSigned] = ['root', 'cross-signed-root'].map((profile) => begun.certificates.find((c) => c.profile === profile)!.pem);
  t.regex(ca.directory.rootBundle(), /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
  await t.throwsAsync(finishRootRotation(ca.directory), { instanceOf: ConflictError, message: /still issued by the old root/ });
  t.is(ca.directory.chain().length, 1, "the old root's intermediate is not followed by the new root");
  await ca.close();
  await createClusterIntermediate(ca.directory, ca.keystore, {
    rootKey: newRootKey,
    key: KeyUri.of(`pkcs11:token=${ca.tokens.online};object=intermediate-2`),
    generate: 'p256',
    clusterId: ca.clusterId,
  });
  const authority = await openAuthority(ca.directory, ca.keystore);
  const issued = await authority.issueNode((await nodeCsr('OU=swarm-worker, CN=after-rotation')).csrPem);
  await authority.ledger.close();
  const files = pemFiles(scratch(t), {
    'leaf.pem': certificatePem(issued.certificate),
    'old-root.pem': ca.directory.read(CA_FILES.previousRoot)!,
    'new-root.pem': root!,
    'untrusted.pem': ca.directory.read(CA_FILES.intermediate)! + crossSigned!,
  });
  for (const trust of ['old-root.pem', 'new-root.pem']) {
    const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', files[trust]!, '-untrusted', files['untrusted.pem']!, files['leaf.pem']!]);
    t.is(verified.code, 0, `${trust}: ${verified.stdout}${verified.stderr}`);
  }
  // The chain the CA hands out carries the cross-signed root during the rotation.
  t.is(ca.directory.chain().length, 2);
  t.regex(issued.chainPem, new RegExp(crossSigned!.split('\n')[1]!.replace(/[+/]/g, '\\$&')));
  await finishRootRotation(ca.directory);
  t.is(ca.directory.rootBundle(), root, 'the old root is retired');
  t.false(ca.directory.exists(CA_FILES.crossSigned));
});

test('a step given a key its certificate does not name refuses before anything is signed or written: another root key (intermediate, root CRL, rotation), a "new" root that is the old one, an Authority over another key', async (t) => {
  const ca = await testCa(t);
  await ca.close();
  const stranger = KeyUri.of(`pkcs11:token=${ca.tokens.root};object=stranger`);
  await ca.keystore.generate(stranger, { algorithm: 'p384' });
  const files = () => [CA_FILES.config, CA_FILES.roots, CA_FILES.intermediate, 'crl/root.crl.pem'].map((file) => ca.directory.read(file));
  const before = files();
  const intermediate = { key: KeyUri.of(`pkcs11:token=${ca.tokens.online};object=intermediate`), clusterId: ca.clusterId };
  await t.throwsAsync(createClusterIntermediate(ca.directory, ca.keystore, { ...intermediate, rootKey: stranger }), {
    instanceOf: UsageError,
    code: 'ROOT_KEY_MISMATCH',
  });
  await t.throwsAsync(beginRootRotation(ca.directory, ca.keystore, { newKey: KeyUri.of(ca.rootKey) }), { instanceOf: UsageError, code: 'ROTATION_SAME_KEY' });
  await t.throwsAsync(signRootCrl(ca.directory, ca.keystore, { rootKey: stranger }), { instanceOf: UsageError, code: 'ROOT_KEY_MISMATCH' });
  const signer = await SigningKey.of(await ca.keystore.open(stranger));
  t.throws(() => new Authority(signer, ca.directory.intermediate(), ca.authority.ledger, { clusterId: ca.clusterId, nodeDays: 90 }), {
    instanceOf: UsageError,
    code: 'CA_KEY_MISMATCH',
  });
  t.deepEqual(files(), before);
  // ca.json travels on shared media: a root key it names is checked against root.pem too.
  ca.directory.saveConfig({ ...ca.directory.config(), rootKey: stranger.text });
  await t.throwsAsync(beginRootRotation(ca.directory, ca.keystore, { newKey: KeyUri.of(`pkcs11:token=${ca.tokens.root};object=root-2`), generate: 'p256' }), {
    instanceOf: UsageError,
    code: 'ROOT_KEY_MISMATCH',
  });
  t.false(ca.directory.exists(CA_FILES.crossSigned));
});

test("join tokens: SwarmKit's format, pinned to the root bundle", async (t) => {
  const ca = await testCa(t);
  const token = createJoinToken(ca.directory.rootBundle());
  t.regex(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  t.truthy(verifyJoinToken(token, ca.directory.rootBundle()));
  t.not(createJoinToken(ca.directory.rootBundle()), token, 'the secret part is random');
  const other = await testCa(t);
  t.throws(() => verifyJoinToken(token, other.directory.rootBundle()), { instanceOf: VerificationError, message: /pins another root/ });
  t.throws(() => parseJoinToken('SWMTKN-2-abc-def'), { instanceOf: UsageError });
  t.throws(() => parseJoinToken(`${token}x`), { instanceOf: UsageError });
  await ca.close();
  await other.close();
});
