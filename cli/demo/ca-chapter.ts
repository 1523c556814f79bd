/**
 * Demo, chapter 3: a cluster PKI: offline root, cluster CA, two nodes, a mutual-TLS handshake, a
 * revocation; then, where a throw-away dockerd can run, a real swarm moved to a Keyward cluster CA.
 */
import { generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuthority } from '../../src/ca/authority.js';
import { createJoinToken } from '../../src/ca/join-token.js';
import { createClusterIntermediate } from '../../src/ca/steps/intermediate.js';
import { reportOf } from '../../src/ceremony/report.js';
import { runCeremony } from '../../src/ceremony/runner.js';
import { readScript } from '../../src/ceremony/script.js';
import { nonInteractive } from '../../src/keystore/interaction.js';
import { revokeCertificate, signIntermediateCrl } from '../../src/ca/steps/revocation.js';
import { createRootCa } from '../../src/ca/steps/root.js';
import { serveCa } from '../../src/ca/server/serve.js';
import { CA_FILES, CaDirectory } from '../../src/ca/store.js';
import { swarmRotation } from '../../src/ca/swarm.js';
import { DOCKER_CLI, dockerdUnavailable, runCommand, startDockerd } from '../../src/testing/dockerd.js';
import { certificatePem } from '../../src/x509/certificate.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { KeyUri } from '../../src/keystore/uri/origin.js';
import type { Secret } from '../../src/secret.js';
import * as x509 from '../../src/x509/peculiar.js';
import { mtlsHandshake, type TlsIdentity } from '../../src/testing/mtls.js';
import { opensslVerifyCertificate } from '../../src/testing/openssl.js';
import type { Story } from './story.js';

const CLUSTER = 'demo-cluster';

/** A node's own key (in software, as on a Swarm node) and its CSR. */
async function nodeRequest(role: 'swarm-manager' | 'swarm-worker', nodeId: string): Promise<{ key: string; csr: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ]),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'verify',
    ]),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: `OU=${role}, CN=${nodeId}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    webcrypto,
  );
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csr: csr.toString('pem') };
}

export async function caChapter(story: Story, keystore: Keystore, pins: { so: Secret; user: Secret }): Promise<void> {
  story.chapter(
    'A cluster PKI with its keys in hardware',
    "An offline root in one token, the cluster's issuing CA in another; nodes keep their own keys and send CSRs.",
  );
  const backend = await keystore.administration('pkcs11');
  for (const label of ['offline-root', 'ca-online']) backend.initToken('pkcs11:', { label, soPin: pins.so, userPin: pins.user });
  const directory = new CaDirectory(mkdtempSync(join(tmpdir(), 'keyward-demo-ca-')));
  // The root and the intermediate are made as they would be for real: in ceremonies, from scripts.
  const ceremonies = join(directory.dir, 'ceremonies');
  mkdirSync(ceremonies);
  const device = (label: string) => `{ uri: "pkcs11:token=${label}", serial: "${backend.tokens(`pkcs11:token=${label}`)[0]!.serial}" }`;
  const ceremony = async (name: string, body: string) => {
    const file = join(ceremonies, `${name}.yaml`);
    writeFileSync(file, `keyward-ceremony: 1\nca-directory: ${JSON.stringify(directory.dir)}\nwitnesses: [the demo]\n${body}`);
    const out = join(ceremonies, name);
    // The demo is its own witness: it approves each draft after the lint passed, as a person would read it.
    const result = await runCeremony(readScript(file), {
      out,
      keystore: () => keystore,
      interaction: nonInteractive,
      witnessing: { show: () => undefined, confirm: async () => true },
    });
    // The printable report the witnesses would sign: the final hash as text and as a QR code.
    const report = join(out, 'report.html');
    writeFileSync(report, reportOf(result.transcript, 'html'));
    return { ...result, report };
  };
  const rootCeremony = await ceremony(
    'root',
    `kind: root\ndevices:\n  root-hsm: ${device('offline-root')}\nkeys:\n  root: { device: root-hsm, label: root, algorithm: p384 }\noutputs: { certificate: root.pem }\n`,
  );
  const [root] = rootCeremony.records[0]!.certificates;
  story.step(
    true,
    `root ceremony: offline root "${root!.subject}" (P-384, in token "offline-root", bound by its serial), valid until ${root!.notAfter.slice(0, 4)}; its draft was linted before the token signed`,
    `transcript ${rootCeremony.transcript} (final hash ${rootCeremony.finalHash.slice(0, 16)}…, signed by the new root)\nprintable report ${rootCeremony.report}`,
  );
  const intermediateCeremony = await ceremony(
    'intermediate',
    `kind: intermediate\ndevices:\n  root-hsm: ${device('offline-root')}\n  online-hsm: ${device('ca-online')}\nkeys:\n  root: { device: root-hsm, label: root }\n  intermediate: { device: online-hsm, label: cluster-ca, algorithm: p256 }\ncluster: { id: ${CLUSTER} }\noutputs: { certificate: intermediate.pem }\n`,
  );
  story.step(
    true,
    `intermediate ceremony: cluster CA "${intermediateCeremony.records[0]!.certificates[0]!.subject}": certified by the root (pathLen 0, constrained to O=${CLUSTER}) and self-signed by its own key, the one certificate its swarm trusts`,
    `transcript ${intermediateCeremony.transcript}; keyward ceremony verify checks it\nprintable report ${intermediateCeremony.report} (keyward ceremony report --format html|pdf; everything is erased on exit)`,
  );

  const authority = await openAuthority(directory, keystore);
  try {
    const manager = await nodeRequest('swarm-manager', 'manager-1');
    const worker = await nodeRequest('swarm-worker', 'worker-1');
    const managerCert = await authority.issueNode(manager.csr);
    const workerCert = await authority.issueNode(worker.csr);
    const roots = directory.rootBundle();
    const verified = await opensslVerifyCertificate({
      certificatePem: certificatePem(managerCert.certificate),
      trustedPem: roots,
      untrustedPem: managerCert.chainPem,
      extraArgs: ['-x509_strict'],
    });
    story.step(
      verified.ok,
      `two node certificates issued (90 days, renewal due ${managerCert.renewAt.toISOString().slice(0, 10)}); openssl verify -x509_strict: ${verified.output}`,
    );

    const server: TlsIdentity = { key: manager.key, cert: managerCert.chainPem };
    const client: TlsIdentity = { key: worker.key, cert: workerCert.chainPem };
    const crls = async () => [(await signIntermediateCrl(directory, keystore)).crls[0]!.pem, directory.read('crl/root.crl.pem')!];
    const handshake = await mtlsHandshake({ server, client, roots, serverName: 'manager-1', crl: await crls() });
    story.step(
      handshake.ok,
      `mutual TLS between worker-1 and manager-1 (Node's tls): ${handshake.ok ? `"${handshake.greeting}", the server is a ${handshake.serverRole}` : handshake.error}`,
    );

    await revokeCertificate(directory, { serial: workerCert.serial, reason: 'keyCompromise' });
    const refused = await mtlsHandshake({ server, client, roots, serverName: 'manager-1', crl: await crls() });
    story.step(
      !refused.ok && refused.error === 'CERT_REVOKED',
      `worker-1 revoked and a new CRL signed in the token: the next handshake is refused (${refused.error})`,
    );
    story.step(true, `join token for new nodes, pinned to the root: ${createJoinToken(roots).slice(0, 26)}…`);
  } finally {
    await authority.ledger.close();
    rmSync(directory.dir, { recursive: true, force: true });
  }
  await swarmSection(story, keystore);
}

/** Docker Swarm for real, where a throw-away dockerd can run: a swarm moves to a Keyward cluster CA. */
async function swarmSection(story: Story, keystore: Keystore): Promise<void> {
  const unavailable = dockerdUnavailable();
  if (unavailable) {
    story.note(`Docker Swarm: not run here (${unavailable}). As root with Debian's docker.io installed, the demo moves a real swarm to a Keyward cluster CA.`);
    return;
  }
  const daemon = await startDockerd();
  const directory = new CaDirectory(mkdtempSync(join(tmpdir(), 'keyward-demo-swarm-ca-')));
  try {
    const listen = `127.0.0.1:${daemon.swarmPort}`;
    await daemon.must(['swarm', 'init', '--listen-addr', listen, '--advertise-addr', listen]);
    const clusterId = await daemon.must(['info', '--format', '{{.Swarm.Cluster.ID}}']);
    story.step(
      true,
      `a throw-away dockerd (${await daemon.must(['version', '--format', '{{.Server.Version}}'])}) starts a swarm, cluster ${clusterId}, with its own CA for now`,
    );
    const rootKey = KeyUri.of('pkcs11:token=offline-root;object=swarm-root');
    await createRootCa(directory, keystore, { key: rootKey, generate: 'p384' });
    await createClusterIntermediate(directory, keystore, { rootKey, key: KeyUri.of('pkcs11:token=ca-online;object=swarm-ca'), generate: 'p256', clusterId });
    const served = await serveCa(directory, keystore, { host: '127.0.0.1', port: 0, tlsHosts: ['127.0.0.1'] });
    try {
      const rotation = swarmRotation(directory, served.url);
      story.step(true, `a cluster CA for that swarm's ID in the tokens, served at ${served.url}; keyward ca swarm-command prints:`, rotation.command);
      const rotated = await runCommand(
        'timeout',
        ['180', DOCKER_CLI, 'swarm', 'ca', '--rotate', '--ca-cert', rotation.caCert, '--external-ca', rotation.externalCa],
        daemon.env,
      );
      const converged = rotated.code === 0 && (await daemon.must(['info', '--format', '{{.Swarm.Cluster.RootRotationInProgress}}'])) === 'false';
      story.step(
        converged,
        "docker swarm ca --rotate: the rotation converged, and the swarm trusts the Keyward cluster CA (dockerd's Go crypto/x509 accepts its certificates)",
        converged ? undefined : rotated.stderr.trim(),
      );
      const leaf = new X509Certificate(daemon.nodeCertificate());
      const verified = await opensslVerifyCertificate({
        certificatePem: leaf.toString(),
        trustedPem: directory.rootBundle(),
        untrustedPem: directory.read(CA_FILES.intermediate),
        extraArgs: ['-x509_strict'],
      });
      story.step(
        verified.ok,
        `dockerd's node certificate (${leaf.subject.split('\n').join(', ')}) came from Keyward; openssl verifies it to the offline root: ${verified.output}`,
      );
    } finally {
      await served.close();
    }
  } finally {
    await daemon.stop();
    rmSync(directory.dir, { recursive: true, force: true });
  }
}
