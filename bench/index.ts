/**
 * `npm run bench`: peers side by side in one run. Prints Markdown tables (pasted into the README)
 * and writes every figure to bench/results/latest.json.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/atomic-file.js';
import { benchKeystoreSign, KEYSTORE_CONCURRENCY } from './keystore-sign.js';
import { createSoftHsmStore, useSoftHsmStore } from '../src/hsm/pkcs11/softhsm.js';
import { benchCaIssue, CA_CONCURRENCY } from './ca-issue.js';
import { formatTable } from './measure.js';
import { benchPivSign } from './piv-sign.js';
import { benchTrust, type TrustBench } from './trust.js';
import { startPcscd } from '../test/harness/pcscd.js';

const ops = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const started = new Date();
  // One SoftHSM store for the whole run: SoftHSM reads its configuration once per process.
  useSoftHsmStore(createSoftHsmStore('keyward-bench-'));
  process.stderr.write('keystore sign vs raw pkcs11js vs node:crypto (SoftHSM2)…\n');
  const sign = await benchKeystoreSign();
  const table = formatTable(
    ['algorithm', 'raw C_Sign (sync)', `raw C_SignAsync ×${KEYSTORE_CONCURRENCY}`, 'keystore ×1', `keystore ×${KEYSTORE_CONCURRENCY}`, 'keystore ×4 / raw', 'node:crypto (software)'],
    sign.map((r) => [
      r.algorithm,
      ops(r.rawSync.opsPerSecond),
      ops(r.rawAsync.opsPerSecond),
      ops(r.keystoreSequential.opsPerSecond),
      ops(r.keystoreConcurrent.opsPerSecond),
      `${r.ratioToRaw.toFixed(2)}×`,
      ops(r.nodeCrypto.opsPerSecond),
    ]),
  );
  process.stdout.write(`\n### Signatures per second (ops/s)\n\n${table}\n`);
  process.stderr.write('YubiKey PIV signing on the virtual YubiKey (in-process and through pcscd)…\n');
  // pcsc-lite reads PCSCLITE_CSOCK_NAME once per process: one private pcscd serves the whole run.
  const rig = process.getuid?.() === 0 ? await startPcscd() : undefined;
  try {
    const piv = await benchPivSign(rig);
    const apdus = piv.apdusPerSignature;
    process.stdout.write(
      `\n### YubiKey PIV (virtual YubiKey), ECDSA P-256 in slot 9a\n\n${formatTable(
        ['measure', 'Keyward', 'yubico-piv-tool'],
        [
          ['APDUs per signature, PIN verified once per session (library)', apdus.keywardSession.toFixed(2), '—'],
          ['APDUs for one whole command: verify PIN + one signature¹', String(apdus.keywardCli), String(apdus.yubicoPivTool ?? '—')],
          ['one whole signing command, wall time', piv.commandMs ? `${Math.round(piv.commandMs.keyward)} ms` : '—', piv.commandMs ? `${Math.round(piv.commandMs.yubicoPivTool)} ms` : '—'],
          ['signatures per second, in-process virtual YubiKey', ops(piv.inProcess.opsPerSecond), '—'],
          ['signatures per second, through pcscd + vpcd', piv.pcscd ? ops(piv.pcscd.opsPerSecond) : '—', '—'],
        ],
      )}\n\n¹ slot 9c (PIN always): keyward key sign; yubico-piv-tool -a verify-pin -a test-signature (it has no raw sign action).\n${piv.skipped ? `(${piv.skipped})\n` : ''}`,
    );
    process.stderr.write('certificates per second through cfssl\'s API: Keyward (SoftHSM, memory) and cfssl serve…\n');
    const ca = await benchCaIssue();
    process.stdout.write(
      `\n### Node certificates issued per second (POST /api/v1/cfssl/sign, ${CA_CONCURRENCY} in flight)\n\n${formatTable(
        ['server', 'certificates/s'],
        ca.map((r) => [r.server, ops(r.measurement.opsPerSecond)]),
      )}\n`,
    );
    process.stderr.write('TUF: Keyward and tuf-js verifying the same repository; signing large roles; a cold trust sign…\n');
    const trust = await benchTrust(rig);
    process.stdout.write(trustTables(trust));
    const results = {
      date: started.toISOString(),
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
      keystoreSign: sign,
      pivSign: piv,
      caIssue: ca,
      trust,
    };
    const file = join(fileURLToPath(import.meta.url), '..', 'results', 'latest.json');
    writeFileAtomic(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\nfigures written to ${file}\n`);
    const below = sign.filter((r) => r.ratioToRaw < 0.95);
    if (below.length) process.stdout.write(`note: keystore below 0.95× raw for ${below.map((r) => r.algorithm).join(', ')}\n`);
  } finally {
    await rig?.stop();
  }
}

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')} ms`;

function trustTables(trust: TrustBench): string {
  const verify = formatTable(
    ['targets', 'targets.json', 'Keyward', 'tuf-js', 'tuf-js / Keyward'],
    trust.verify.map((r) => [
      r.targets.toLocaleString('en-US'),
      `${(r.targetsJsonBytes / 1e6).toFixed(1)} MB`,
      ms(r.keywardMs),
      r.tufjsMs !== undefined ? ms(r.tufjsMs) : (r.tufjsError ?? "—"),
      r.tufjsMs !== undefined ? `${Math.round(r.tufjsMs / r.keywardMs)}×` : '—',
    ]),
  );
  const sign = formatTable(
    ['targets', 'canonical JSON + Ed25519 alone', 'Keyward, key in memory', 'Keyward, key in SoftHSM', 'SoftHSM / alone'],
    trust.sign.map((r) => [r.targets.toLocaleString('en-US'), ms(r.floorMs), ms(r.keywardMemoryMs), ms(r.keywardSoftHsmMs), `${(r.keywardSoftHsmMs / r.floorMs).toFixed(2)}×`]),
  );
  const cold = trust.coldSign
    ? formatTable(
        ['measure', 'time'],
        [
          ['node -e 0', ms(trust.coldSign.nodeMs)],
          ['keyward trust sign: start → the card waits for the touch', ms(trust.coldSign.keywardToCardWaitMs)],
          [`keyward trust sign: start → "Touch your YubiKey…" (shown after ${trust.coldSign.noticeDelayMs} ms of card silence)`, ms(trust.coldSign.keywardToNoticeMs)],
        ],
      )
    : `(${trust.skipped})`;
  return `\n### TUF: a fresh client, refresh + one target lookup (local HTTP)\n\n${verify}\n\n### TUF: signing a targets role with Ed25519\n\n${sign}\n\n### TUF: a cold touch-to-sign\n\n${cold}\n`;
}

await main();
