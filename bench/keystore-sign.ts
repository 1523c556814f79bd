/**
 * Keystore `sign` against the same key signed with raw pkcs11js (C_SignInit + C_Sign in a loop),
 * and against node:crypto with a software key. SoftHSM2, in this process.
 */
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { type KeyAlgorithm } from '../src/crypto/algorithms.js';
import { CKM_EDDSA } from '../src/hsm/pkcs11/constants.js';
import { findKeys } from '../src/hsm/pkcs11/keys.js';
import { Pkcs11Module, resolveModulePath } from '../src/hsm/pkcs11/module.js';
import { Keystore } from '../src/keystore/keystore.js';
import { Secret } from '../src/secret.js';
import { interleavedMedians, measureAsync, measureSync, median, type Measurement } from './measure.js';

export const KEYSTORE_CONCURRENCY = 4;

export interface SignBenchRow {
  algorithm: KeyAlgorithm;
  rawSync: Measurement;
  rawAsync: Measurement;
  keystoreSequential: Measurement;
  keystoreConcurrent: Measurement;
  nodeCrypto: Measurement;
  /** keystoreConcurrent / rawSync: the goal is ≥ 0.95. */
  ratioToRaw: number;
  /** keystoreSequential / rawSync, measured in turn: the goal is ≥ 0.8 (one signature awaited at a time signs on the calling thread). */
  sequentialRatioToRaw: number;
}

const PIN = 'bench-pin';
const MESSAGE = Buffer.from('a message of modest size, as a TBSCertificate or TUF role would be: '.repeat(4));

function rawMechanism(algorithm: KeyAlgorithm): { mechanism: pkcs11js.Mechanism; input: Buffer; outLength: number } {
  switch (algorithm) {
    case 'p256':
      // SoftHSM has no CKM_ECDSA_SHA256: the raw loop signs a precomputed hash (the keystore also hashes).
      return { mechanism: { mechanism: pkcs11js.CKM_ECDSA }, input: createHash('sha256').update(MESSAGE).digest(), outLength: 64 };
    case 'rsa2048':
      return { mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS }, input: MESSAGE, outLength: 256 };
    case 'ed25519':
      return { mechanism: { mechanism: CKM_EDDSA }, input: MESSAGE, outLength: 64 };
    default:
      throw new Error(`no raw benchmark for ${algorithm}`);
  }
}

function nodeKey(algorithm: KeyAlgorithm) {
  if (algorithm === 'p256') return { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, hash: 'sha256' };
  if (algorithm === 'rsa2048') return { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, hash: 'sha256' };
  return { key: generateKeyPairSync('ed25519').privateKey, hash: null };
}

/** Needs this process's SoftHSM store (bench/index.ts sets one up). */
export async function benchKeystoreSign(algorithms: KeyAlgorithm[] = ['p256', 'rsa2048', 'ed25519']): Promise<SignBenchRow[]> {
  const keystore = new Keystore({ env: { KEYWARD_PIN: PIN } });
  (await keystore.administration('pkcs11')).initToken('pkcs11:', { label: 'bench', soPin: Secret.fromString('bench-so'), userPin: Secret.fromString(PIN) });
  const module = Pkcs11Module.open(resolveModulePath());
  const rows: SignBenchRow[] = [];
  for (const algorithm of algorithms) {
    const handle = await keystore.generate(`pkcs11:token=bench;object=${algorithm}`, { algorithm });
    const token = module.tokens().find((t) => t.label === 'bench')!;
    const [key] = findKeys(token, { label: algorithm });
    const lib = module.lib;
    const raw = rawMechanism(algorithm);
    const session = lib.C_OpenSession(token.slot, pkcs11js.CKF_SERIAL_SESSION);
    const out = Buffer.alloc(raw.outLength);
    // The raw loop and one keystore signature at a time, in turn: their ratio is a goal (≥ 0.8).
    const { rawSync, keystoreSequential } = await interleavedMedians({
      rawSync: () =>
        measureSync('raw pkcs11js C_Sign (sync loop)', () => {
          lib.C_SignInit(session, raw.mechanism, key!.privateKey!);
          lib.C_Sign(session, raw.input, out);
        }),
      keystoreSequential: () => measureAsync('keystore sign, 1 in flight', () => handle.sign(MESSAGE), 1),
    });
    const sessions = Array.from({ length: KEYSTORE_CONCURRENCY }, () => lib.C_OpenSession(token.slot, pkcs11js.CKF_SERIAL_SESSION));
    const rawAsync = await median(() =>
      measureAsync(
        `raw pkcs11js C_SignAsync, ${KEYSTORE_CONCURRENCY} sessions`,
        async (worker) => {
          const s = sessions[worker]!;
          lib.C_SignInit(s, raw.mechanism, key!.privateKey!);
          await lib.C_SignAsync(s, raw.input, Buffer.alloc(raw.outLength));
        },
        KEYSTORE_CONCURRENCY,
      ),
    );
    for (const s of [session, ...sessions]) lib.C_CloseSession(s);
    const keystoreConcurrent = await median(() =>
      measureAsync(`keystore sign, ${KEYSTORE_CONCURRENCY} in flight`, () => handle.sign(MESSAGE), KEYSTORE_CONCURRENCY),
    );
    const soft = nodeKey(algorithm);
    const nodeCrypto = await median(() => measureSync('node:crypto sign (software key)', () => nodeSign(soft.hash, MESSAGE, soft.key)));
    rows.push({
      algorithm,
      rawSync,
      rawAsync,
      keystoreSequential,
      keystoreConcurrent,
      nodeCrypto,
      ratioToRaw: keystoreConcurrent.opsPerSecond / rawSync.opsPerSecond,
      sequentialRatioToRaw: keystoreSequential.opsPerSecond / rawSync.opsPerSecond,
    });
  }
  await keystore.close();
  return rows;
}
