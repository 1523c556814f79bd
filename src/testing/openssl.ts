/**
 * OpenSSL as the independent verifier: the demo (and the tests) prove a signature or certificate
 * good by asking a tool that no one here wrote.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ALGORITHMS, nodeHashName, type HashName, type KeyAlgorithm, type RsaPadding } from '../crypto/algorithms.js';

const run = promisify(execFile);

export interface OpensslResult {
  ok: boolean;
  /** What openssl printed (stdout and stderr). */
  output: string;
}

async function openssl(args: string[], cwd: string): Promise<OpensslResult> {
  try {
    const { stdout, stderr } = await run('openssl', args, { cwd });
    return { ok: true, output: `${stdout}${stderr}`.trim() };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}

async function inTempDir<T>(files: Record<string, Uint8Array | string>, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function opensslVersion(): Promise<string | undefined> {
  const result = await openssl(['version'], tmpdir()).catch(() => undefined);
  return result?.ok ? result.output : undefined;
}

/** `openssl dgst -verify` (or `pkeyutl -verify -rawin` for Ed25519) over a DER/PKCS#1/PSS signature. */
export function opensslVerifySignature(request: {
  algorithm: KeyAlgorithm;
  publicKeyPem: string;
  data: Uint8Array;
  signature: Uint8Array;
  hash?: HashName;
  padding?: RsaPadding;
}): Promise<OpensslResult> {
  const info = ALGORITHMS[request.algorithm];
  const files = { 'key.pem': request.publicKeyPem, data: request.data, sig: request.signature };
  return inTempDir(files, (dir) => {
    if (info.family === 'ed25519') {
      return openssl(['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-rawin', '-in', 'data', '-sigfile', 'sig'], dir);
    }
    const hash = nodeHashName(request.hash ?? info.defaultHash);
    const pss = request.padding === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'] : [];
    return openssl(['dgst', `-${hash}`, ...pss, '-verify', 'key.pem', '-signature', 'sig', 'data'], dir);
  });
}

/** `openssl verify` of a certificate against trusted roots (and untrusted intermediates). */
export function opensslVerifyCertificate(request: {
  certificatePem: string;
  trustedPem: string;
  untrustedPem?: string;
  extraArgs?: string[];
}): Promise<OpensslResult> {
  const files: Record<string, string> = { 'cert.pem': request.certificatePem, 'ca.pem': request.trustedPem };
  if (request.untrustedPem) files['untrusted.pem'] = request.untrustedPem;
  return inTempDir(files, (dir) =>
    openssl(['verify', ...(request.extraArgs ?? []), '-CAfile', 'ca.pem', ...(request.untrustedPem ? ['-untrusted', 'untrusted.pem'] : []), 'cert.pem'], dir),
  );
}
