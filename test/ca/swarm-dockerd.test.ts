/**
 * Docker Swarm for real: two dockerd of Debian's docker.io on 127.0.0.1 move their swarm to a
 * Keyward cluster CA (keys in SoftHSM, `keyward ca serve --tls`) with the command `keyward ca
 * swarm-command` prints. The judge is SwarmKit itself and Go's crypto/x509 inside dockerd: the
 * rotation must converge, a worker must join, a promotion and a demotion must bring new certificates, and
 * Keyward must not be asked again and again once the swarm is content. Then the Docker CLI, a Go
 * TLS client, verifies the CA server both ways (to the cluster CA, to the offline root).
 */
import test, { type ExecutionContext } from 'ava';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliCa } from '../harness/ca.js';
import { caServeProcess } from '../harness/ca-server.js';
import { DOCKER_CLI, startDockerd, waitUntil, type Dockerd } from '../../src/testing/dockerd.js';
import { run } from '../harness/run.js';

/** One node's view, as SwarmKit reports it: the issuer (subject and key, base64 DER) of the certificate it holds. */
interface TlsInfo {
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
}

async function ok(result: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<string> {
  const done = await result;
  if (done.code !== 0) throw new Error(`${what} failed (${done.code}): ${done.stderr}${done.stdout}`);
  return done.stdout;
}

/** The leaf of a node's certificate file: its subject, serial, and OpenSSL's verdict to the offline root. */
async function leafOf(daemon: Dockerd, caDir: string): Promise<{ subject: string; serial: string; verify: string }> {
  const file = join(daemon.dir, 'leaf.pem');
  const leaf = new X509Certificate(daemon.nodeCertificate());
  writeFileSync(file, leaf.toString());
  const verified = await run('openssl', ['verify', '-x509_strict', '-CAfile', join(caDir, 'roots.pem'), '-untrusted', join(caDir, 'intermediate.pem'), file]);
  return { subject: leaf.subject, serial: leaf.serialNumber.toLowerCase(), verify: verified.stdout.trim() || verified.stderr.trim() };
}

async function swarmMovesToKeyward(t: ExecutionContext, clientAuth: 'none' | 'managers'): Promise<void> {
  t.timeout(8 * 60_000, 'two daemons, a rotation, a join, a promotion and a quiet minute');
  const [manager, worker] = await Promise.all([startDockerd(), startDockerd()]);
  t.teardown(() => Promise.all([manager.stop(), worker.stop()]));
  const listen = (daemon: Dockerd) => ['--listen-addr', `127.0.0.1:${daemon.swarmPort}`, '--advertise-addr', `127.0.0.1:${daemon.swarmPort}`];
  await manager.must(['swarm', 'init', ...listen(manager)]);
  const clusterId = await manager.must(['info', '--format', '{{.Swarm.Cluster.ID}}']);
  const managerId = await manager.must(['info', '--format', '{{.Swarm.NodeID}}']);

  // The cluster CA, made for the swarm's real cluster ID after `swarm init`, its keys in SoftHSM.
  const { token, dir, rootKey, caKey, ca } = await cliCa(t);
  await ok(ca(['root', 'create', '--key', rootKey, '--generate', 'p384']), 'ca root create');
  await ok(ca(['intermediate', 'create', '--root-key', rootKey, '--key', caKey, '--generate', 'p256', '--cluster-id', clusterId]), 'ca intermediate create');
  const swarmRoot = join(dir, '..', 'swarm-root.pem');
  writeFileSync(swarmRoot, await manager.must(['swarm', 'ca']));
  const mutual = clientAuth === 'managers' ? ['--client-auth', 'managers', '--bootstrap-root', swarmRoot] : [];
  const server = await caServeProcess(['--dir', dir, '--tls', '--hostname', '127.0.0.1', ...mutual], token.env);
  t.teardown(() => {
    server.child.kill('SIGTERM');
    return server.exited;
  });
  const url = `https://127.0.0.1:${server.port}`;

  const rotation = JSON.parse(await ok(ca(['swarm-command', '--url', url, '--json']), 'ca swarm-command')) as {
    caCert: string;
    externalCa: string;
    command: string;
  };
  t.is(rotation.caCert, join(dir, 'cluster-ca.pem'));
  t.is(rotation.externalCa, `protocol=cfssl,url=${url}/api/v1/cfssl/sign,cacert=${rotation.caCert}`);
  t.is(await ok(ca(['swarm-command', '--url', url]), 'ca swarm-command'), `${rotation.command}\n`);

  // The printed command, run as printed (by the Docker CLI on PATH); it returns once the rotation has converged.
  const rotated = await run('sh', ['-c', `timeout 300 ${rotation.command}`], { env: manager.env });
  t.is(rotated.code, 0, `${rotated.stderr}\nca serve:\n${server.stderr().slice(-3000)}`);
  t.is(await manager.must(['info', '--format', '{{.Swarm.Cluster.RootRotationInProgress}}']), 'false', 'the swarm reports no rotation in progress');
  const clusterCa = new X509Certificate(await ok(run('cat', [rotation.caCert]), 'cat'));
  t.true(new X509Certificate(await manager.must(['swarm', 'ca'])).raw.equals(clusterCa.raw), 'the swarm trusts the cluster CA, and only it');

  // The manager's certificate now comes from Keyward: SwarmKit's shape, OpenSSL verifies it to the offline root.
  const managerLeaf = await leafOf(manager, dir);
  t.is(managerLeaf.subject, `O=${clusterId}\nOU=swarm-manager\nCN=${managerId}`);
  t.regex(managerLeaf.verify, /: OK$/);

  // A worker joins with the swarm's (new) token and gets its certificate from Keyward.
  const joinToken = await manager.must(['swarm', 'join-token', '-q', 'worker']);
  await worker.must(['swarm', 'join', '--token', joinToken, ...listen(worker), `127.0.0.1:${manager.swarmPort}`]);
  const workerId = await worker.must(['info', '--format', '{{.Swarm.NodeID}}']);
  const workerLeaf = await leafOf(worker, dir);
  t.is(workerLeaf.subject, `O=${clusterId}\nOU=swarm-worker\nCN=${workerId}`);
  t.regex(workerLeaf.verify, /: OK$/);

  /** Changes the worker's role, and waits for the certificate of its new role. */
  const changeRole = async (verb: 'promote' | 'demote', role: 'swarm-manager' | 'swarm-worker') => {
    await manager.must(['node', verb, workerId]);
    return waitUntil(
      `the ${verb}d node's ${role} certificate`,
      async () => {
        const leaf = await leafOf(worker, dir);
        return leaf.subject.includes(`OU=${role}`) ? leaf : undefined;
      },
      120_000,
    );
  };

  // A promotion: the new manager's certificate, again from Keyward.
  const promoted = await changeRole('promote', 'swarm-manager');
  t.is(promoted.subject, `O=${clusterId}\nOU=swarm-manager\nCN=${workerId}`);
  t.regex(promoted.verify, /: OK$/);

  // Every node reports the cluster CA as its issuer, as SwarmKit's reconciler judges convergence.
  const clusterCaSpki = clusterCa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  for (const id of [managerId, workerId]) {
    const info = await waitUntil(
      `node ${id} to report its new issuer`,
      async () => {
        const tls = JSON.parse(await manager.must(['node', 'inspect', id, '--format', '{{json .Description.TLSInfo}}'])) as TlsInfo;
        return tls.CertIssuerPublicKey === clusterCaSpki ? tls : undefined;
      },
      60_000,
    );
    t.is(info.CertIssuerPublicKey, clusterCaSpki);
  }

  // A demotion: a worker's certificate again, from Keyward.
  const demoted = await changeRole('demote', 'swarm-worker');
  t.regex(demoted.verify, /: OK$/);
  t.not(demoted.serial, workerLeaf.serial, 'a new worker certificate, not the one from the join');

  // The ledger holds what the nodes hold; a minute later Keyward has not been asked again and again.
  const nodeSerials = async () => {
    const status = JSON.parse(await ok(ca(['status', '--json']), 'ca status')) as { certificates: Array<{ serial: string; profile: string }> };
    return status.certificates.filter((c) => c.profile.startsWith('node-')).map((c) => c.serial);
  };
  const issued = await nodeSerials();
  for (const leaf of [managerLeaf, workerLeaf, promoted, demoted]) t.true(issued.includes(leaf.serial), `serial ${leaf.serial} is in the ledger`);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  const later = await nodeSerials();
  t.true(
    later.length - issued.length <= 2,
    `issued ${later.length - issued.length} more node certificates in the minute after convergence (${later.length} in all)`,
  );
  t.true(later.length <= 10, `${later.length} node certificates for 2 nodes, a rotation, a join, a promotion and a demotion`);

  // Go's TLS client (the Docker CLI) verifies the CA server to the cluster CA and to the offline root,
  // presenting the manager's Keyward certificate; it reaches HTTP (an error answer: this is no dockerd), not an x509 error.
  const certificates = join(manager.dataRoot, 'swarm', 'certificates');
  for (const anchor of [rotation.caCert, join(dir, 'roots.pem')]) {
    const go = await run(
      DOCKER_CLI,
      [
        '--tlsverify',
        '--tlscacert',
        anchor,
        '--tlscert',
        join(certificates, 'swarm-node.crt'),
        '--tlskey',
        join(certificates, 'swarm-node.key'),
        '-H',
        `tcp://127.0.0.1:${server.port}`,
        'version',
        '--format',
        '{{.Server.Version}}',
      ],
      { env: { ...manager.env, DOCKER_HOST: undefined } },
    );
    t.notRegex(go.stderr, /x509|certificate|tls:/i, `trusting ${anchor}`);
    t.regex(go.stderr, /^Error response from daemon/m, `trusting ${anchor}: an HTTP answer, so TLS was accepted: ${go.stderr}`);
  }
  if (clientAuth === 'managers') {
    t.regex(
      server.stderr(),
      /admitted TLS client 127\.0\.0\.1:\d+ \(.*OU=swarm-manager.*\): a manager with a certificate from the swarm's own root/,
      'the bootstrap is logged',
    );
  }
}

test('a real swarm moves to a Keyward cluster CA: rotation converges, a worker joins, promotion and demotion get their certificates, and the CA is left in peace', (t) =>
  swarmMovesToKeyward(t, 'none'));

test("the same with mutual TLS from the start (--client-auth managers): managers bootstrap with the swarm's own root", (t) =>
  swarmMovesToKeyward(t, 'managers'));
