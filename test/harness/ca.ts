/**
 * A cluster CA on SoftHSM for tests (offline-root and online tokens in this process's store, a CA
 * directory of its own), and nodes with software keys making CSRs, as Swarm nodes do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { openAuthority, type Authority } from '../../src/ca/authority.js';
import { checkCsr } from '../../src/ca/csr.js';
import { daysFromNow, issueCertificate } from '../../src/ca/issue.js';
import { createClusterIntermediate } from '../../src/ca/steps/intermediate.js';
import { createRootCa } from '../../src/ca/steps/root.js';
import { nodeFixedExtensions } from '../../src/ca/profiles.js';
import { CaDirectory } from '../../src/ca/store.js';
import { Keystore } from '../../src/keystore/keystore.js';
import { KeyUri } from '../../src/keystore/uri/origin.js';
import { Secret } from '../../src/secret.js';
import { subjectKeyIdentifier } from '../../src/x509/key-identifier.js';
import * as x509 from '../../src/x509/peculiar.js';
import type { TokenSummary } from '../../src/keystore/pkcs11/administration.js';
import { cliToken, CLI_PIN, CLI_SO_PIN } from './cli-token.js';
import { recordingInteraction, SO_PIN, USER_PIN } from './keystore.js';
import { run } from './run.js';
import { uniqueLabel, useProcessSoftHsm } from './softhsm.js';
import { tempDir, type Teardown } from './temp.js';

export interface TestCa {
  directory: CaDirectory;
  keystore: Keystore;
  authority: Authority;
  clusterId: string;
  rootKey: string;
  tokens: { root: string; online: string };
  close(): Promise<void>;
}

/** A test CA; its directory is removed at `t`'s teardown (`close()` only closes the ledger). */
export async function testCa(t: Teardown, options: { clusterId?: string; intermediateKey?: string; keystore?: Keystore } = {}): Promise<TestCa> {
  useProcessSoftHsm();
  // Two tokens in one keystore: each its own PIN variable (KEYWARD_PIN would go to one of them only), set once they exist.
  const env: NodeJS.ProcessEnv = {};
  const keystore = options.keystore ?? new Keystore({ env, interaction: recordingInteraction([]) });
  const pkcs11 = await keystore.administration('pkcs11');
  const tokens = { root: uniqueLabel('root'), online: uniqueLabel('online') };
  for (const label of Object.values(tokens)) {
    const { pinVariable } = pkcs11.initToken('pkcs11:', { label, soPin: Secret.fromString(SO_PIN), userPin: Secret.fromString(USER_PIN) });
    env[pinVariable!] = USER_PIN;
  }
  const directory = new CaDirectory(tempDir(t, 'keyward-ca-'));
  const clusterId = options.clusterId ?? uniqueLabel('cluster');
  const rootKey = `pkcs11:token=${tokens.root};object=root`;
  await createRootCa(directory, keystore, { key: KeyUri.of(rootKey), generate: 'p384' });
  await createClusterIntermediate(directory, keystore, {
    rootKey: KeyUri.of(rootKey),
    key: KeyUri.of(options.intermediateKey ?? `pkcs11:token=${tokens.online};object=intermediate`),
    generate: options.intermediateKey ? undefined : 'p256',
    clusterId,
  });
  const authority = await openAuthority(directory, keystore);
  return { directory, keystore, authority, clusterId, rootKey, tokens, close: () => authority.ledger.close() };
}

/**
 * For `keyward ca …` runs: a store with the offline root's token and an online token, and a CA
 * directory in it; removed at `t`'s teardown. `env` gives each token its PIN in its own variable, as
 * commands that use both need (KEYWARD_PIN goes to one device); `token.env` has only KEYWARD_PIN.
 */
export async function cliCa(t: Teardown) {
  const token = await cliToken(t); // the offline root's token
  const online = await token.keyward(['token', 'init', '--label', `${token.label}-online`], { env: { ...token.env, KEYWARD_SO_PIN: CLI_SO_PIN } });
  if (online.code !== 0) throw new Error(online.stderr);
  const env = { ...token.env };
  for (const { pinVariable } of JSON.parse((await token.keyward(['token', 'list', '--json'])).stdout) as TokenSummary[]) env[pinVariable!] = CLI_PIN;
  const dir = join(token.store.dir, 'ca');
  const rootKey = `pkcs11:token=${token.label};object=root`;
  const caKey = `pkcs11:token=${token.label}-online;object=cluster-a`;
  return { token, env, dir, rootKey, caKey, ca: (args: string[]) => token.keyward(['ca', ...args, '--dir', dir], { env }) };
}

/** A node's key and CSR made by OpenSSL, as files in `dir`; returns the CSR's path. */
export function opensslCsr(dir: string, name: string, subject: string): Promise<string> {
  const file = join(dir, `${name}.csr`);
  return run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, `${name}.key`),
    '-subj',
    subject,
    '-out',
    file,
  ]).then(() => file);
}

export interface TestNode {
  keys: webcrypto.CryptoKeyPair;
  csrPem: string;
  /** The private key, PEM (PKCS#8), for TLS. */
  keyPem: string;
}

/** A node's key and CSR, with whatever subject the test wants to ask for. */
export async function nodeCsr(subject: string, algorithm: 'p256' | 'rsa2048' | 'ed25519' = 'p256'): Promise<TestNode> {
  const params =
    algorithm === 'p256'
      ? { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } }
      : algorithm === 'rsa2048'
        ? {
            generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
            sign: { name: 'RSASSA-PKCS1-v1_5' },
          }
        : { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  const keys = (await webcrypto.subtle.generateKey(params.generate as webcrypto.EcKeyGenParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: params.sign }, webcrypto);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { keys, csrPem: csr.toString('pem'), keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n` };
}

/** Writes PEM files for command-line verifiers; returns their paths. */
export function pemFiles(dir: string, files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).map(([name, content]) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return [name, path];
    }),
  );
}

/**
 * A node certificate for another cluster signed directly with this CA's key, bypassing its policy
 * on purpose, as a thief of the key would: only the intermediate's name constraint can stop it.
 */
export async function forgeForeignNode(
  ca: TestCa,
  csrPem: string,
  clusterId: string,
  role: 'swarm-manager' | 'swarm-worker',
  nodeId: string,
): Promise<x509.X509Certificate> {
  const { spki } = await checkCsr(csrPem);
  const now = new Date();
  return issueCertificate(
    ca.authority.signer,
    ca.authority.certificate,
    {
      subject: `O=${clusterId}, OU=${role}, CN=${nodeId}`,
      spki,
      notAfter: daysFromNow(30, now),
      extensions: [
        ...nodeFixedExtensions(ca.authority.signer.spki),
        new x509.SubjectAlternativeNameExtension([role, nodeId].map((value) => ({ type: 'dns' as const, value }))),
        subjectKeyIdentifier(spki),
      ],
    },
    { now },
  );
}
