/**
 * Node identities in use: a real mutual-TLS handshake (Node's tls, i.e. OpenSSL) between two
 * nodes of the cluster, and the refusals that matter: a revoked node, a node of another cluster.
 */
import test from 'ava';
import { mtlsHandshake, type TlsIdentity } from '../../src/testing/mtls.js';
import { revokeCertificate, signIntermediateCrl } from '../../src/ca/steps/revocation.js';
import { certificatePem } from '../../src/x509/certificate.js';
import { forgeForeignNode, nodeCsr, testCa, type TestCa } from '../harness/ca.js';

async function identity(ca: TestCa, subject: string): Promise<TlsIdentity & { serial: string }> {
  const node = await nodeCsr(subject);
  const issued = await ca.authority.issueNode(node.csrPem);
  return { key: node.keyPem, cert: issued.chainPem, serial: issued.serial };
}

const handshake = (ca: TestCa, server: TlsIdentity, client: TlsIdentity, serverName: string, crl: string[] = []) =>
  mtlsHandshake({ server, client, roots: ca.directory.rootBundle(), serverName, crl });

test('two nodes of the cluster complete a mutual-TLS handshake, each verifying the other to the root', async (t) => {
  const ca = await testCa(t);
  const manager = await identity(ca, 'OU=swarm-manager, CN=manager-1');
  const worker = await identity(ca, 'OU=swarm-worker, CN=worker-1');
  const result = await handshake(ca, manager, worker, 'manager-1');
  t.true(result.ok, result.error);
  t.is(result.greeting, 'hello worker-1');
  t.is(result.serverRole, 'swarm-manager');
  await ca.close();
});

test('a revoked node is refused once the CRL says so', async (t) => {
  const ca = await testCa(t);
  const manager = await identity(ca, 'OU=swarm-manager, CN=manager-1');
  const worker = await identity(ca, 'OU=swarm-worker, CN=worker-1');
  const crlOf = async () => [(await signIntermediateCrl(ca.directory, ca.keystore)).crls[0]!.pem, ca.directory.read('crl/root.crl.pem')!];
  t.true((await handshake(ca, manager, worker, 'manager-1', await crlOf())).ok, 'accepted before revocation');
  await revokeCertificate(ca.directory, { serial: worker.serial, reason: 'keyCompromise' });
  const refused = await handshake(ca, manager, worker, 'manager-1', await crlOf());
  t.false(refused.ok);
  t.is(refused.error, 'CERT_REVOKED');
  await ca.close();
});

test("a node certificate for another cluster, signed with this intermediate's key, is refused by the name constraint", async (t) => {
  const ca = await testCa(t);
  const manager = await identity(ca, 'OU=swarm-manager, CN=manager-1');
  const intruder = await nodeCsr('CN=intruder');
  const forged = await forgeForeignNode(ca, intruder.csrPem, 'other-cluster', 'swarm-worker', 'intruder');
  const refused = await handshake(
    ca,
    manager,
    { key: intruder.keyPem, cert: certificatePem(forged) + certificatePem(ca.directory.intermediate()) },
    'manager-1',
  );
  t.false(refused.ok);
  // Node names OpenSSL's X509_V_ERR_PERMITTED_VIOLATION only as "UNSPECIFIED"; the reason itself is
  // asserted with openssl verify in pki.test.ts. Control: the same key certified for this cluster passes.
  t.is(refused.error, 'UNSPECIFIED');
  const sameKey = await ca.authority.issueNode(intruder.csrPem, { role: 'worker' });
  t.true((await handshake(ca, manager, { key: intruder.keyPem, cert: sameKey.chainPem }, 'manager-1')).ok);
  await ca.close();
});
