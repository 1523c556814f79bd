/** Demo, chapter 3: a cluster PKI: offline root, cluster intermediate, two nodes, a mutual-TLS handshake. */
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuthority } from '../../src/ca/authority.js';
import { createJoinToken } from '../../src/ca/join-token.js';
import { createClusterIntermediate } from '../../src/ca/steps/intermediate.js';
import { revokeCertificate, signIntermediateCrl } from '../../src/ca/steps/revocation.js';
import { createRootCa } from '../../src/ca/steps/root.js';
import { CaDirectory } from '../../src/ca/store.js';
import { certificatePem } from '../../src/x509/certificate.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { toPem } from '../../src/x509/pem.js';
import type { Secret } from '../../src/secret.js';
import * as x509 from '../../src/x509/peculiar.js';
import { mtlsHandshake, type TlsIdentity } from './mtls.js';
import { opensslVerifyCertificate } from './openssl.js';
import type { Story } from './story.js';

const CLUSTER = 'demo-cluster';

/** A node's own key (in software, as on a Swarm node) and its CSR. */
async function nodeRequest(role: 'swarm-manager' | 'swarm-worker', nodeId: string): Promise<{ key: string; csr: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `OU=${role}, CN=${nodeId}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } }, webcrypto);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csr: csr.toString('pem') };
}

export async function caChapter(story: Story, keystore: Keystore, pins: { so: Secret; user: Secret }): Promise<void> {
  story.chapter('A cluster PKI with its keys in hardware', 'An offline root in one token, the cluster\'s issuing CA in another; nodes keep their own keys and send CSRs.');
  const backend = await keystore.administration('pkcs11');
  for (const label of ['offline-root', 'ca-online']) backend.initToken('pkcs11:', { label, soPin: pins.so, userPin: pins.user });
  const directory = new CaDirectory(mkdtempSync(join(tmpdir(), 'keyward-demo-ca-')));
  const rootKey = 'pkcs11:token=offline-root;object=root';
  const root = await createRootCa(directory, keystore, { key: rootKey, generate: 'p384' });
  story.step(true, `offline root "${root.subject}" (P-384, in token "offline-root"), valid until ${root.notAfter.getUTCFullYear()}`);
  const intermediate = await createClusterIntermediate(directory, keystore, { rootKey, key: 'pkcs11:token=ca-online;object=cluster-ca', generate: 'p256', clusterId: CLUSTER });
  story.step(true, `cluster intermediate "${intermediate.subject}": pathLen 0, name-constrained to O=${CLUSTER}`);

  const authority = await openAuthority(directory, keystore);
  try {
    const manager = await nodeRequest('swarm-manager', 'manager-1');
    const worker = await nodeRequest('swarm-worker', 'worker-1');
    const managerCert = await authority.issueNode(manager.csr);
    const workerCert = await authority.issueNode(worker.csr);
    const roots = directory.rootBundle();
    const verified = await opensslVerifyCertificate({ certificatePem: certificatePem(managerCert.certificate), trustedPem: roots, untrustedPem: managerCert.chainPem, extraArgs: ['-x509_strict'] });
    story.step(verified.ok, `two node certificates issued (90 days, renewal due ${managerCert.renewAt.toISOString().slice(0, 10)}); openssl verify -x509_strict: ${verified.output}`);

    const server: TlsIdentity = { key: manager.key, cert: managerCert.chainPem };
    const client: TlsIdentity = { key: worker.key, cert: workerCert.chainPem };
    const crls = async () => [toPem('X509 CRL', new Uint8Array((await signIntermediateCrl(directory, keystore)).rawData)), directory.read('crl/root.crl.pem')!];
    const handshake = await mtlsHandshake({ server, client, roots, serverName: 'manager-1', crl: await crls() });
    story.step(handshake.ok, `mutual TLS between worker-1 and manager-1 (Node's tls): ${handshake.ok ? `"${handshake.greeting}", the server is a ${handshake.serverRole}` : handshake.error}`);

    await revokeCertificate(directory, { serial: workerCert.serial, reason: 'keyCompromise' });
    const refused = await mtlsHandshake({ server, client, roots, serverName: 'manager-1', crl: await crls() });
    story.step(!refused.ok && refused.error === 'CERT_REVOKED', `worker-1 revoked and a new CRL signed in the token: the next handshake is refused (${refused.error})`);
    story.step(true, `join token for new nodes, pinned to the root: ${createJoinToken(roots).slice(0, 26)}…`);
  } finally {
    await authority.ledger.close();
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
