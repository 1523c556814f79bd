/**
 * Docker Swarm as the CA server's client, for real: SwarmKit's managers send a CSR with an empty
 * subject and put the node's identity in the request's `subject` (ca.PrepareCSR), over mutual TLS
 * with the manager's certificate. And who may obtain which identity: every combination of caller
 * and requested identity, allowed or refused as `keyward ca serve --help` documents.
 */
import test from 'ava';
import { createHmac, createPrivateKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServedCa } from '../../../src/ca/server/serve.js';
import { nodeCsr, type TestCa } from '../../harness/ca.js';
import { post, swarmNodeCsr, swarmSignRequest, withServer, type ClientTls, type Reply } from '../../harness/ca-server.js';
import { run } from '../../harness/run.js';
import { tempDir } from '../../harness/temp.js';

const AUTH_KEY = Buffer.from('8f0e1d2c3b4a59687766554433221100', 'hex');

type Role = 'swarm-manager' | 'swarm-worker';

/** The authsign envelope cfssl's auth client sends around an inner request. */
function authsign(inner: string, key = AUTH_KEY): string {
  const bytes = Buffer.from(inner);
  return JSON.stringify({ token: createHmac('sha256', key).update(bytes).digest('base64'), request: bytes.toString('base64') });
}

function issuedTo(reply: Reply): X509Certificate {
  if (!reply.body.success) throw new Error(`refused: ${reply.status} ${JSON.stringify(reply.body.errors)}`);
  return new X509Certificate(reply.body.result!.certificate!);
}

/** A node certificate and key as a node holds them after joining: the caller side of mutual TLS. */
async function nodeIdentity(ca: TestCa, nodeId: string, role: Role): Promise<ClientTls> {
  const node = await swarmNodeCsr();
  const issued = await ca.authority.issueNode(node.csrPem, { nodeId, role: role === 'swarm-manager' ? 'manager' : 'worker' });
  return { key: node.keyPem, cert: issued.chainPem, ca: ca.directory.rootBundle() };
}

test("SwarmKit's own request shape gets worker and manager certificates, over plain HTTP", (t) =>
  withServer({}, async (server, ca) => {
    for (const [role, nodeId, sans] of [
      ['swarm-worker', 'x3y9kq0w2n8r5t1v7b4m6c0zd', 'DNS:swarm-worker, DNS:x3y9kq0w2n8r5t1v7b4m6c0zd'],
      ['swarm-manager', 'a1b2c3d4e5f6g7h8i9j0k1l2m', 'DNS:swarm-manager, DNS:a1b2c3d4e5f6g7h8i9j0k1l2m, DNS:swarm-ca'],
    ] as const) {
      const node = await swarmNodeCsr();
      const reply = await post(server.url, '/api/v1/cfssl/sign', swarmSignRequest(node.csrPem, nodeId, role, ca.clusterId));
      const certificate = issuedTo(reply);
      t.is(certificate.subject, `O=${ca.clusterId}\nOU=${role}\nCN=${nodeId}`);
      t.is(certificate.subjectAltName, sans);
      t.true(certificate.checkPrivateKey(createPrivateKey(node.keyPem)), 'for the key in the CSR');
      t.deepEqual(reply.body.messages, [], 'hosts as SwarmKit sends them are exactly what the CA puts in: nothing to warn about');
      t.truthy(await ca.authority.ledger.get(certificate.serialNumber.toLowerCase()), 'recorded in the ledger');
    }
  }));

test("SwarmKit's request through authsign, and the real cfssl client sending the same subject, plainly and with authsign", (t) =>
  withServer({ authKeys: new Map([['k1', AUTH_KEY]]) }, async (server, ca) => {
    const node = await swarmNodeCsr();
    const viaAuthsign = issuedTo(
      await post(server.url, '/api/v1/cfssl/authsign', authsign(swarmSignRequest(node.csrPem, 'worker-7', 'swarm-worker', ca.clusterId))),
    );
    t.is(viaAuthsign.subject, `O=${ca.clusterId}\nOU=swarm-worker\nCN=worker-7`);

    // cfssl sign CSR SUBJECT: its client puts the SUBJECT file into the request's `subject`, as SwarmKit does.
    const dir = tempDir(t, 'keyward-swarm-');
    writeFileSync(join(dir, 'node.csr'), node.csrPem);
    writeFileSync(join(dir, 'subject.json'), JSON.stringify({ CN: 'manager-3', names: [{ O: ca.clusterId, OU: 'swarm-manager' }] }));
    const plain = await run('cfssl', ['sign', '-remote', server.url, join(dir, 'node.csr'), join(dir, 'subject.json')]);
    t.is(plain.code, 0, plain.stderr);
    t.is(new X509Certificate(JSON.parse(plain.stdout).cert).subject, `O=${ca.clusterId}\nOU=swarm-manager\nCN=manager-3`);
    writeFileSync(
      join(dir, 'client.json'),
      JSON.stringify({
        signing: { default: { auth_remote: { remote: 'ca', auth_key: 'k1' } } },
        auth_keys: { k1: { type: 'standard', key: AUTH_KEY.toString('hex') } },
        remotes: { ca: server.url },
      }),
    );
    const authenticated = await run('cfssl', ['sign', '-config', join(dir, 'client.json'), join(dir, 'node.csr'), join(dir, 'subject.json')]);
    t.is(authenticated.code, 0, authenticated.stderr);
    t.is(new X509Certificate(JSON.parse(authenticated.stdout).cert).subject, `O=${ca.clusterId}\nOU=swarm-manager\nCN=manager-3`);
  }));

test("a manager asks over mutual TLS with its certificate, as SwarmKit's external CA client does", (t) =>
  withServer({ tlsHosts: ['127.0.0.1'], clientAuth: 'managers' }, async (server, ca) => {
    const manager = await nodeIdentity(ca, 'manager-1', 'swarm-manager');
    for (const role of ['swarm-worker', 'swarm-manager'] as const) {
      const node = await swarmNodeCsr();
      const certificate = issuedTo(await post(server.url, '/api/v1/cfssl/sign', swarmSignRequest(node.csrPem, `new-${role}`, role, ca.clusterId), manager));
      t.is(certificate.subject, `O=${ca.clusterId}\nOU=${role}\nCN=new-${role}`);
    }
  }));

test('a subject for another cluster, an unknown role, or one that contradicts the CSR is refused', (t) =>
  withServer({}, async (server, ca) => {
    const node = await swarmNodeCsr();
    const sign = (body: string) => post(server.url, '/api/v1/cfssl/sign', body);
    const foreign = await sign(swarmSignRequest(node.csrPem, 'n1', 'swarm-worker', 'another-cluster'));
    t.like(foreign, { status: 400, body: { success: false, errors: [{ code: 5300 }] } });
    t.regex(foreign.body.errors[0]!.message, /cluster "another-cluster".*cluster "[^"]+" only/);
    const unknownRole = await sign(swarmSignRequest(node.csrPem, 'n1', 'swarm-admin' as Role, ca.clusterId));
    t.like(unknownRole, { status: 400, body: { errors: [{ code: 5300 }] } });
    t.regex(unknownRole.body.errors[0]!.message, /"swarm-admin" is not a node role/);
    const twoRoles = JSON.stringify({
      certificate_request: node.csrPem,
      subject: { CN: 'n1', names: [{ O: ca.clusterId, OU: 'swarm-worker' }, { OU: 'swarm-manager' }] },
    });
    t.regex((await sign(twoRoles)).body.errors[0]!.message, /2 values for OU/);
    t.like(await sign(JSON.stringify({ certificate_request: node.csrPem, subject: 'CN=n1' })), { status: 400, body: { errors: [{ code: 5300 }] } });
    // A CSR that names a node itself cannot be turned into another node by the request.
    const named = await nodeCsr('OU=swarm-worker, CN=node-a');
    const contradicted = await sign(swarmSignRequest(named.csrPem, 'node-b', 'swarm-worker', ca.clusterId));
    t.like(contradicted, { status: 400 });
    t.regex(contradicted.body.errors[0]!.message, /names node "node-a", but "node-b" was requested/);
    t.is((await ca.authority.ledger.list()).filter((e) => e.profile.startsWith('node')).length, 0, 'nothing was issued');
  }));

type Caller = 'manager' | 'worker' | 'worker+authsign' | 'anyone';
const CALLER_WORDS: Record<Caller, string> = {
  anyone: 'no credentials (loopback)',
  manager: 'a manager certificate',
  worker: 'a worker certificate',
  'worker+authsign': 'a worker certificate and an authsign token',
};
type Asked = 'own worker' | 'own as manager' | 'other worker' | 'other manager';

/** The documented rules (keyward ca serve --help, README): what each caller may obtain. */
const RULES: Array<{ mode: 'none' | 'cluster' | 'managers'; caller: Caller; allowed: Asked[] }> = [
  { mode: 'none', caller: 'anyone', allowed: ['own worker', 'own as manager', 'other worker', 'other manager'] },
  { mode: 'cluster', caller: 'manager', allowed: ['own worker', 'own as manager', 'other worker', 'other manager'] },
  { mode: 'cluster', caller: 'worker', allowed: ['own worker'] },
  { mode: 'cluster', caller: 'worker+authsign', allowed: ['own worker', 'own as manager', 'other worker', 'other manager'] },
  { mode: 'managers', caller: 'manager', allowed: ['own worker', 'own as manager', 'other worker', 'other manager'] },
  { mode: 'managers', caller: 'worker', allowed: [] },
];

const ASKED: Record<Asked, (callerId: string) => { nodeId: string; role: Role }> = {
  'own worker': (id) => ({ nodeId: id, role: 'swarm-worker' }),
  'own as manager': (id) => ({ nodeId: id, role: 'swarm-manager' }),
  'other worker': () => ({ nodeId: 'someone-else', role: 'swarm-worker' }),
  'other manager': () => ({ nodeId: 'someone-else', role: 'swarm-manager' }),
};

async function ask(server: ServedCa, ca: TestCa, caller: Caller, asked: Asked): Promise<Reply> {
  const callerId = `${caller.replace(/\W/g, '-')}-node`;
  const identity = caller === 'anyone' ? undefined : await nodeIdentity(ca, callerId, caller === 'manager' ? 'swarm-manager' : 'swarm-worker');
  const { nodeId, role } = ASKED[asked](callerId);
  const request = swarmSignRequest((await swarmNodeCsr()).csrPem, nodeId, role, ca.clusterId);
  if (caller === 'worker+authsign') return post(server.url, '/api/v1/cfssl/authsign', authsign(request), identity);
  return post(server.url, '/api/v1/cfssl/sign', request, identity);
}

for (const rule of RULES) {
  test(`--client-auth ${rule.mode}: a caller with ${CALLER_WORDS[rule.caller]} may obtain ${rule.allowed.length ? rule.allowed.join(', ') : 'nothing'}`, (t) =>
    withServer(rule.mode === 'none' ? {} : { tlsHosts: ['127.0.0.1'], clientAuth: rule.mode, authKeys: new Map([['k1', AUTH_KEY]]) }, async (server, ca) => {
      for (const asked of Object.keys(ASKED) as Asked[]) {
        const reply = await ask(server, ca, rule.caller, asked);
        if (rule.allowed.includes(asked)) {
          t.true(reply.body.success, `${asked}: ${JSON.stringify(reply.body.errors)}`);
        } else {
          t.is(reply.status, 403, `${asked} is refused`);
          t.regex(reply.body.errors[0]!.message, rule.mode === 'managers' ? /only managers/ : /a worker may renew only its own certificate/);
        }
      }
    }));
}
