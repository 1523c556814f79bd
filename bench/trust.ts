/**
 * TUF, side by side in one run: Keyward's client and tuf-js verifying the same repository from a
 * fresh start (refresh + one target lookup, over a local HTTP server); Keyward alone at 100,000
 * targets; a fresh `keyward trust client` process downloading a target at 10,000 targets
 * (trust-client.ts); signing a large targets role with Ed25519 against the floor (canonical JSON +
 * Ed25519 with nothing else); and a cold `keyward trust sign` until the touch notice, next to
 * `node -e 0`.
 */
import { spawn } from 'node:child_process';
import { randomBytes, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize as tufjsCanonicalize } from '@tufjs/canonical-json';
import { Updater as TufJsUpdater } from 'tuf-js';
import { MemoryKeyHandle } from '../src/keystore/memory-key.js';
import { Keystore } from '../src/keystore/keystore.js';
import { Secret } from '../src/secret.js';
import { initClient, Updater } from '../src/trust/client/updater.js';
import { formatExpiry, Metadata, SPEC_VERSION } from '../src/trust/metadata.js';
import { Repository } from '../src/trust/repository/repository.js';
import { signerOf, signMetadata, type TufSigner } from '../src/trust/signer.js';
import { targetFileOf, type TargetFile, type TargetsSigned } from '../src/trust/targets.js';
import { serveVirtualCard, type PcscRig } from '../test/harness/pcscd.js';
import { KEYWARD_BIN, run } from '../test/harness/run.js';
import { Cleanup, tempDir, type Teardown } from '../test/harness/temp.js';
import { staticServer, trustCliSetup } from '../test/harness/tuf.js';
import { medianOf } from './measure.js';
import { benchFreshClient, type FreshClientBench } from './trust-client.js';

export interface VerifyRow {
  targets: number;
  targetsJsonBytes: number;
  keywardMs: number;
  tufjsMs?: number;
  tufjsError?: string;
}

export interface SignRow {
  targets: number;
  floorMs: number;
  keywardMemoryMs: number;
  keywardSoftHsmMs: number;
}

export interface TrustBench {
  verify: VerifyRow[];
  sign: SignRow[];
  /** A fresh client process downloading one target, at FRESH_CLIENT_TARGETS targets. */
  freshClient?: FreshClientBench;
  /** Process start → the card waits for the touch (its own log says so), and → the notice on stderr. */
  coldSign?: { nodeMs: number; keywardToCardWaitMs: number; keywardToNoticeMs: number; noticeDelayMs: number };
  skipped?: string;
}

const SIZES = (process.env.KEYWARD_BENCH_TUF_SIZES ?? '10000,100000').split(',').map(Number);
/** tuf-js takes about a minute at 10,000 targets: it is measured at the sizes it can handle. */
const TUFJS_MAX = Number(process.env.KEYWARD_BENCH_TUFJS_MAX ?? 10_000);
/** The repository size at which a fresh client process is timed (when it is one of SIZES). */
const FRESH_CLIENT_TARGETS = 10_000;
/** The one target of a large repository with a file behind it, for the fresh client to download. */
const RELEASE = { path: 'releases/app-1.0.0.tar.gz', bytes: randomBytes(4096) };

function syntheticTargets(count: number): Record<string, TargetFile> {
  const targets: Record<string, TargetFile> = {};
  for (let i = 0; i < count; i++)
    targets[`packages/pkg-${i}/pkg-${i}-1.0.0.tar.gz`] = { length: 1000 + i, hashes: { sha256: createHash('sha256').update(String(i)).digest('hex') } };
  return targets;
}

async function timed(work: () => Promise<unknown> | unknown, repeats = 3): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await work();
    runs.push(performance.now() - started);
  }
  return medianOf(runs);
}

async function softHsmSigners(): Promise<{ keystore: Keystore; make: () => Promise<TufSigner> }> {
  const keystore = new Keystore({ env: { KEYWARD_PIN: '123456' } });
  const token = `tuf-bench-${randomBytes(3).toString('hex')}`;
  (await keystore.administration('pkcs11')).initToken('pkcs11:', { label: token, soPin: Secret.fromString('so-123456'), userPin: Secret.fromString('123456') });
  let n = 0;
  return { keystore, make: async () => signerOf(await keystore.generate(`pkcs11:token=${token};object=k${n++}`, { algorithm: 'ed25519' })) };
}

/**
 * A published repository of `count` targets in the top-level targets role, every key Ed25519 in
 * SoftHSM; one of them (RELEASE) has its file in the repository.
 */
async function largeRepository(count: number, make: () => Promise<TufSigner>, keystore: Keystore, t: Teardown): Promise<Repository> {
  const setup = async () => {
    const signer = await make();
    return { keys: [{ key: signer.key, signer }], threshold: 1 };
  };
  const options = { root: await setup(), targets: await setup(), snapshot: await setup(), timestamp: await setup() };
  const repo = await Repository.init(tempDir(t, 'keyward-bench-tuf-'), options, { keystore });
  await repo.change({
    edit: (edits) => {
      edits.addTargets(syntheticTargets(count - 1));
      edits.addTarget(RELEASE.path, targetFileOf(RELEASE.bytes), { bytes: RELEASE.bytes });
    },
    signers: [options.targets.keys[0]!.signer!],
  });
  return repo;
}

async function verifyRow(count: number, repo: Repository, t: Teardown): Promise<VerifyRow> {
  const server = await staticServer(repo.publicDir);
  const root = readFileSync(join(repo.publicDir, 'metadata', '1.root.json'));
  const lookup = `packages/pkg-${count - 2}/pkg-${count - 2}-1.0.0.tar.gz`;
  const row: VerifyRow = { targets: count, targetsJsonBytes: readFileSync(join(repo.publicDir, 'metadata', '2.targets.json')).length, keywardMs: 0 };
  try {
    row.keywardMs = await timed(async () => {
      const metadataDir = tempDir(t, 'keyward-bench-client-');
      initClient(metadataDir, root);
      const updater = new Updater({ metadataDir, metadataUrl: `${server.url}/metadata` });
      await updater.refresh();
      if (!(await updater.findTarget(lookup))) throw new Error('Keyward did not find the target');
    });
    if (count <= TUFJS_MAX) {
      const metadataDir = tempDir(t, 'keyward-bench-tufjs-');
      writeFileSync(join(metadataDir, 'root.json'), root);
      const started = performance.now();
      try {
        const updater = new TufJsUpdater({ metadataDir, metadataBaseUrl: `${server.url}/metadata` });
        await updater.refresh();
        if (!(await updater.getTargetInfo(lookup))) throw new Error('tuf-js did not find the target');
        row.tufjsMs = performance.now() - started;
      } catch (error) {
        row.tufjsError = (error as Error).message;
      }
    } else {
      // Keyward's snapshot gives each file's length, which tuf-js then uses instead of its 5 MB
      // targetsMaxLength; its cost grows with the square of the targets (about a minute at 10,000).
      row.tufjsError = 'not run: its time grows with the square of the targets (about a minute at 10,000)';
    }
  } finally {
    await server.close();
  }
  return row;
}

async function signRow(count: number, softhsm: TufSigner): Promise<SignRow> {
  const signed: TargetsSigned = {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: formatExpiry(Date.now() + 86_400_000),
    targets: syntheticTargets(count),
  };
  const { privateKey } = generateKeyPairSync('ed25519');
  const floorMs = await timed(() => sign(null, Buffer.from(tufjsCanonicalize(signed)), privateKey), 5);
  const memory = await signerOf(new MemoryKeyHandle('ed25519'));
  const keyward = (signer: TufSigner) => timed(() => signMetadata(new Metadata<TargetsSigned>('targets', { signed, signatures: [] }), signer), 5);
  return { targets: count, floorMs, keywardMemoryMs: await keyward(memory), keywardSoftHsmMs: await keyward(softhsm) };
}

/** A cold `keyward trust sign` with a served virtual YubiKey: process start until the touch notice. */
async function coldSign(rig: PcscRig): Promise<TrustBench['coldSign']> {
  const card = await serveVirtualCard(rig, { touch: 'manual', touchTimeoutSeconds: 10 });
  const cleanup = new Cleanup();
  try {
    const s = await trustCliSetup(cleanup, rig);
    const keys = {
      root: await s.key('root', 'ed25519'),
      targets: await s.key('targets', 'ed25519'),
      snapshot: await s.key('snapshot', 'ed25519'),
      timestamp: await s.key('timestamp', 'ed25519'),
    };
    await s.init(keys);
    await s.keyward(['key', 'generate', 'yubikey:slot=9c', '-a', 'p256', '--touch-policy', 'always', '--pin-policy', 'never']);
    await s.keyward(['trust', 'repo', 'delegate', s.dir, 'releases', '--path', 'releases/*', '--key', 'yubikey:slot=9c', '--sign-with', keys.targets]);
    const release = join(s.dir, '..', 'release.tar.gz');
    writeFileSync(release, randomBytes(4096));
    const toNotice: number[] = [];
    const toCardWait: number[] = [];
    const waits = () => card.log.filter((line) => line.includes('waiting-for-touch')).length;
    for (let i = 0; i < 3; i++) {
      const waitsBefore = waits();
      const started = performance.now();
      const child = spawn(process.execPath, [KEYWARD_BIN, '--no-input', 'trust', 'sign', s.dir, `releases/app-${i}.tar.gz`, '--file', release], {
        env: s.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const cardWaiting = (async () => {
        while (waits() === waitsBefore && child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
        toCardWait.push(performance.now() - started);
      })();
      await new Promise<void>((resolve) => {
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => {
          stderr += c;
          if (stderr.includes('Touch your YubiKey')) resolve();
        });
        child.on('exit', () => resolve());
      });
      toNotice.push(performance.now() - started);
      await cardWaiting;
      await run(process.execPath, [KEYWARD_BIN, 'yubikey', 'virtual', 'touch', '--state', card.statePath]);
      await exited;
    }
    const node = await timed(() => run(process.execPath, ['-e', '0']), 5);
    return { nodeMs: node, keywardToCardWaitMs: medianOf(toCardWait), keywardToNoticeMs: medianOf(toNotice), noticeDelayMs: 500 };
  } finally {
    await card.stop();
    await cleanup.run();
  }
}

/** `rig`: the run's private pcscd (undefined without root). */
export async function benchTrust(rig: PcscRig | undefined): Promise<TrustBench> {
  const { keystore, make } = await softHsmSigners();
  const result: TrustBench = { verify: [], sign: [] };
  // The repositories and client directories, removed when the part ends (a 100,000-target one is large).
  const cleanup = new Cleanup();
  try {
    const softhsm = await make();
    for (const count of SIZES) {
      process.stderr.write(`  TUF: ${count.toLocaleString('en-US')} targets…\n`);
      result.sign.push(await signRow(count, softhsm));
      const repo = await largeRepository(count, make, keystore, cleanup);
      result.verify.push(await verifyRow(count, repo, cleanup));
      if (count === FRESH_CLIENT_TARGETS) result.freshClient = await benchFreshClient(repo, count, RELEASE.path);
    }
  } finally {
    await keystore.close();
    await cleanup.run();
  }
  if (!rig) result.skipped = 'the cold trust sign needs root (a private pcscd)';
  else result.coldSign = await coldSign(rig);
  return result;
}
