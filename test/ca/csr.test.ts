/**
 * CSRs read directly (the issuing path's DER reader) against the same CSRs read by asn1-schema:
 * what the direct reading accepts, it reads exactly as the library does, and the CSRs nodes send
 * (cfssl's as SwarmKit makes them, OpenSSL's, WebCrypto's) take the direct path.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { checkCsr, decodeCsr } from '../../src/ca/csr.js';
import { fromPemOrDer } from '../../src/x509/pem.js';
import { nodeCsr, opensslCsr } from '../harness/ca.js';
import { swarmNodeCsr } from '../harness/ca-server.js';
import { tempDir } from '../harness/temp.js';

/** What a decoding says, comparable. */
function said(input: Uint8Array | string, how: 'direct' | 'library') {
  const decoded = decodeCsr(input, how);
  if (!decoded) return undefined;
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    signedPart: hex(decoded.signedPart),
    spki: hex(decoded.spki),
    subjectPublicKey: hex(decoded.subjectPublicKey),
    signatureAlgorithm: decoded.signatureAlgorithm,
    signature: hex(decoded.signature),
    subject: decoded.subject,
  };
}

async function corpus(t: Parameters<typeof tempDir>[0]): Promise<Array<{ name: string; der: Uint8Array; direct: boolean }>> {
  const dir = tempDir(t, 'keyward-csr-');
  const der = (pem: string) => new Uint8Array(fromPemOrDer(pem, 'CERTIFICATE REQUEST'));
  return [
    { name: 'cfssl genkey (SwarmKit: an empty subject)', der: der((await swarmNodeCsr()).csrPem), direct: true },
    { name: 'OpenSSL, P-256', der: der(readFileSync(await opensslCsr(dir, 'p256', '/O=c1/OU=swarm-worker/CN=node-1'), 'utf8')), direct: true },
    { name: 'WebCrypto, P-256', der: der((await nodeCsr('OU=swarm-worker, CN=node-2')).csrPem), direct: true },
    { name: 'WebCrypto, RSA 2048', der: der((await nodeCsr('OU=swarm-worker, CN=node-3', 'rsa2048')).csrPem), direct: true },
    { name: 'WebCrypto, Ed25519', der: der((await nodeCsr('OU=swarm-worker, CN=node-4', 'ed25519')).csrPem), direct: true },
    { name: 'a multi-valued RDN', der: der((await nodeCsr('OU=swarm-worker+CN=node-5, O=c1')).csrPem), direct: true },
    { name: 'a name outside printable ASCII', der: der((await nodeCsr('OU=swarm-worker, CN=nöde-6')).csrPem), direct: false },
  ];
}

test('the CSRs nodes send are read directly, exactly as the library reads them', async (t) => {
  for (const { name, der, direct } of await corpus(t)) {
    const library = said(der, 'library');
    t.truthy(library, name);
    t.is(said(der, 'direct') !== undefined, direct, `${name}: ${direct ? '' : 'not '}read directly`);
    if (direct) t.deepEqual(said(der, 'direct'), library, name);
    t.deepEqual(said(der, 'direct') ?? said(der, 'library'), library, `${name}: either way`);
  }
});

test('property: a CSR altered anywhere is either left to the library or read exactly as the library reads it', async (t) => {
  const csrs = (await corpus(t)).map((c) => c.der);
  fc.assert(
    fc.property(
      fc.constantFrom(...csrs),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      fc.option(fc.nat()),
      (original, changes, cut) => {
        const der = original.slice(0, cut === null ? undefined : cut % (original.length + 1));
        for (const [at, value] of changes) if (der.length) der[at % der.length] = value;
        let direct: ReturnType<typeof said>;
        try {
          direct = said(der, 'direct');
        } catch {
          return t.fail('the direct reading throws nothing: what it cannot read it leaves to the library');
        }
        if (direct === undefined) return;
        let library: ReturnType<typeof said> | Error;
        try {
          library = said(der, 'library');
        } catch (error) {
          library = error as Error;
        }
        t.deepEqual(direct, library);
      },
    ),
    { numRuns: 3000 },
  );
});

test('a CSR the direct reading accepts is checked as before: its key allow-listed, its signature verified', async (t) => {
  const node = await nodeCsr('OU=swarm-worker, CN=checked');
  const checked = await checkCsr(node.csrPem);
  t.is(checked.keyDescription, 'ECDSA P-256');
  t.deepEqual(checked.requested, { commonName: 'checked', organizationalUnit: 'swarm-worker', organization: undefined });
  const der = new Uint8Array(fromPemOrDer(node.csrPem, 'CERTIFICATE REQUEST'));
  der[der.length - 5] ^= 0x01;
  await t.throwsAsync(checkCsr(der), { message: /self-signature does not verify|malformed signature/ });
});
