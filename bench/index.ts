/**
 * `npm run bench`: peers side by side in one run. Prints Markdown tables (pasted into the README)
 * and writes the figures to bench/results/latest.json (parts not run keep their last figures).
 *
 *   npm run bench                    every part
 *   npm run bench -- commands piv    only those parts: keystore, piv, commands, ca, workers, replicas, attack, trust
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/atomic-file.js';
import { createSoftHsmStore, useSoftHsmStore } from '../src/hsm/pkcs11/softhsm.js';
import { startPcscd, type PcscRig } from '../test/harness/pcscd.js';
import { benchCaAttack } from './ca-attack.js';
import { benchCaIssue, CA_CONCURRENCY } from './ca-issue.js';
import { benchCaReplicas, REPLICA_CONCURRENCY } from './ca-replicas.js';
import { benchCaWorkers, WORKERS_CONCURRENCY } from './ca-workers.js';
import { benchCommands, PROCESS_RUNS } from './commands.js';
import { benchKeystoreSign, KEYSTORE_CONCURRENCY } from './keystore-sign.js';
import { formatTable } from './measure.js';
import { benchPivSign } from './piv-sign.js';
import type { FreshClientBench } from './trust-client.js';
import { benchTrust, type TrustBench } from './trust.js';

const ops = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')} ms`;

interface Setting {
  /** The run's private pcscd, when a part needs one and this is root. */
  rig: PcscRig | undefined;
}

interface Part {
  /** Where its figures go in latest.json. */
  key: string;
  softhsm?: boolean;
  pcscd?: boolean;
  run(setting: Setting): Promise<{ figures: unknown; table: string }>;
}

const PARTS: Record<string, Part> = {
  keystore: {
    key: 'keystoreSign',
    softhsm: true,
    async run() {
      process.stderr.write('keystore sign vs raw pkcs11js vs node:crypto (SoftHSM2)…\n');
      const sign = await benchKeystoreSign();
      const table = formatTable(
        [
          'algorithm',
          'raw C_Sign (sync)',
          `raw C_SignAsync ×${KEYSTORE_CONCURRENCY}`,
          'keystore ×1',
          'keystore ×1 / raw',
          `keystore ×${KEYSTORE_CONCURRENCY}`,
          `keystore ×${KEYSTORE_CONCURRENCY} / raw`,
          'node:crypto (software)',
        ],
        sign.map((r) => [
          r.algorithm,
          ops(r.rawSync.opsPerSecond),
          ops(r.rawAsync.opsPerSecond),
          ops(r.keystoreSequential.opsPerSecond),
          `${r.sequentialRatioToRaw.toFixed(2)}×`,
          ops(r.keystoreConcurrent.opsPerSecond),
          `${r.ratioToRaw.toFixed(2)}×`,
          ops(r.nodeCrypto.opsPerSecond),
        ]),
      );
      const below = sign.filter((r) => r.ratioToRaw < 0.95).map((r) => r.algorithm);
      const belowSequential = sign.filter((r) => r.sequentialRatioToRaw < 0.8).map((r) => r.algorithm);
      const note =
        (below.length ? `\nnote: keystore ×${KEYSTORE_CONCURRENCY} below 0.95× raw for ${below.join(', ')}\n` : '') +
        (belowSequential.length ? `\nnote: keystore ×1 below 0.8× raw for ${belowSequential.join(', ')}\n` : '');
      return { figures: sign, table: `### Signatures per second (ops/s)\n\n${table}\n${note}` };
    },
  },
  piv: {
    key: 'pivSign',
    pcscd: true,
    async run({ rig }) {
      process.stderr.write('YubiKey PIV signing with the library on the virtual YubiKey (in-process and through pcscd)…\n');
      const piv = await benchPivSign(rig);
      const table = formatTable(
        ['measure (ECDSA P-256 in slot 9a, PIN policy once)', 'Keyward'],
        [
          ['APDUs per signature, PIN verified once per session', piv.apdusPerSignature.toFixed(2)],
          ['signatures per second, in-process virtual YubiKey', ops(piv.inProcess.opsPerSecond)],
          ['signatures per second, through pcscd + vpcd', piv.pcscd ? ops(piv.pcscd.opsPerSecond) : '—'],
        ],
      );
      return { figures: piv, table: `### YubiKey PIV with the library (virtual YubiKey)\n\n${table}\n${piv.skipped ? `(${piv.skipped})\n` : ''}` };
    },
  },
  commands: {
    key: 'commands',
    pcscd: true,
    async run({ rig }) {
      process.stderr.write(`whole commands as processes, ${PROCESS_RUNS} runs each: node -e 0, keyward --version, keyward key sign, yubico-piv-tool…\n`);
      const commands = await benchCommands(rig);
      const node = commands.rows[0]!.ms;
      const table = formatTable(
        ['command (one process, spawn to exit)', 'median', '× node -e 0', 'APDUs'],
        commands.rows.map((r) => [r.command, ms(r.ms), `${(r.ms / node).toFixed(2)}×`, r.apdus === undefined ? '—' : String(r.apdus)]),
      );
      return {
        figures: commands,
        table: `### Whole commands (median of ${PROCESS_RUNS} runs, interleaved)\n\n${table}\n${commands.skipped ? `(${commands.skipped})\n` : ''}`,
      };
    },
  },
  ca: {
    key: 'caIssue',
    softhsm: true,
    async run() {
      process.stderr.write("certificates per second through cfssl's API: Keyward (SoftHSM, memory) and cfssl serve…\n");
      const ca = await benchCaIssue();
      const table = formatTable(
        ['server', 'certificates/s'],
        ca.map((r) => [r.server, ops(r.measurement.opsPerSecond)]),
      );
      return { figures: ca, table: `### Node certificates issued per second (POST /api/v1/cfssl/sign, ${CA_CONCURRENCY} in flight)\n\n${table}\n` };
    },
  },
  workers: {
    key: 'caWorkers',
    softhsm: true,
    async run() {
      process.stderr.write('certificates per second: ca serve with one worker and one per core (SQLite ledger), cfssl serve, measured in turn…\n');
      const result = await benchCaWorkers();
      const table = formatTable(
        ['server', 'certificates/s', 'rounds'],
        result.rows.map((r) => [r.server, ops(r.measurement.opsPerSecond), (r.measurement as { runs?: number[] }).runs?.map(ops).join(', ') ?? '']),
      );
      return {
        figures: result,
        table:
          `### One machine, every core (POST /api/v1/cfssl/sign, ${WORKERS_CONCURRENCY} in flight, keep-alive)\n\n${table}\n\n` +
          `load average ${result.loadAverage.start.toFixed(1)} → ${result.loadAverage.end.toFixed(1)} while measuring; ` +
          `node:crypto checks one P-256 CSR (key import + ECDSA verify) in ${Math.round(result.csrCheckMicroseconds)} µs\n`,
      };
    },
  },
  replicas: {
    key: 'caReplicas',
    softhsm: true,
    async run() {
      process.stderr.write('certificates per second: ca serve on SQLite, 1/2/3 replicas on one PostgreSQL ledger, cfssl serve…\n');
      const replicas = await benchCaReplicas();
      const table = formatTable(
        ['server', 'certificates/s'],
        replicas.rows.map((r) => [r.server, ops(r.measurement.opsPerSecond)]),
      );
      return {
        figures: replicas,
        table:
          `### Replicas on one PostgreSQL ledger (POST /api/v1/cfssl/sign, ${REPLICA_CONCURRENCY} in flight, one machine)\n\n${table}\n` +
          (replicas.skipped ? `(${replicas.skipped})\n` : ''),
      };
    },
  },
  attack: {
    key: 'caAttack',
    softhsm: true,
    async run() {
      process.stderr.write('the CA server under slowloris and a body flood, then clients that never read, legitimate clients signing meanwhile…\n');
      const attack = await benchCaAttack();
      const table = formatTable(
        ['phase', 'legitimate requests answered', 'success rate', 'server RSS start → peak → end'],
        attack.phases.map((p) => [
          p.phase,
          `${ops(p.legitimate.ok)} of ${ops(p.legitimate.ok + p.legitimate.failed)}`,
          `${(p.legitimate.successRate * 100).toFixed(1)} %`,
          `${Math.round(p.rssMb.start)} → ${Math.round(p.rssMb.peak)} → ${Math.round(p.rssMb.end)} MB`,
        ]),
      );
      return {
        figures: attack,
        table:
          `### The CA server under attack (keyward ca serve, ${attack.attackers.slowlorisConnections} slowloris connections + ${attack.attackers.floodClients.toLocaleString('en-US')} clients sending unfinished ${attack.attackers.floodBodyKiB} KiB bodies; then ${attack.neverReading.connections} clients sending ${attack.neverReading.requestsPerSecondEach} requests a second each and never reading an answer)\n\n${table}\n\n` +
          `attacker connections cut by the server: ${ops(attack.attackers.connectionsClosedByServer)} (slowloris and flood), ${ops(attack.neverReading.connectionsClosedByServer)} (never reading); answered 503 (body memory cap): ${ops(attack.attackers.answered503)}\n`,
      };
    },
  },
  trust: {
    key: 'trust',
    softhsm: true,
    pcscd: true,
    async run({ rig }) {
      process.stderr.write('TUF: Keyward and tuf-js verifying the same repository; a fresh client process; signing large roles; a cold trust sign…\n');
      const trust = await benchTrust(rig);
      return { figures: trust, table: trustTables(trust) };
    },
  },
};

function trustTables(trust: TrustBench): string {
  const verify = formatTable(
    ['targets', 'targets.json', 'Keyward', 'tuf-js', 'tuf-js / Keyward'],
    trust.verify.map((r) => [
      r.targets.toLocaleString('en-US'),
      `${(r.targetsJsonBytes / 1e6).toFixed(1)} MB`,
      ms(r.keywardMs),
      r.tufjsMs !== undefined ? ms(r.tufjsMs) : (r.tufjsError ?? '—'),
      r.tufjsMs !== undefined ? `${Math.round(r.tufjsMs / r.keywardMs)}×` : '—',
    ]),
  );
  const sign = formatTable(
    ['targets', 'canonical JSON + Ed25519 alone', 'Keyward, key in memory', 'Keyward, key in SoftHSM', 'SoftHSM / alone'],
    trust.sign.map((r) => [
      r.targets.toLocaleString('en-US'),
      ms(r.floorMs),
      ms(r.keywardMemoryMs),
      ms(r.keywardSoftHsmMs),
      `${(r.keywardSoftHsmMs / r.floorMs).toFixed(2)}×`,
    ]),
  );
  const cold = trust.coldSign
    ? formatTable(
        ['measure', 'time'],
        [
          ['node -e 0', ms(trust.coldSign.nodeMs)],
          ['keyward trust sign: start → the card waits for the touch', ms(trust.coldSign.keywardToCardWaitMs)],
          [
            `keyward trust sign: start → "Touch your YubiKey…" (shown after ${trust.coldSign.noticeDelayMs} ms of card silence)`,
            ms(trust.coldSign.keywardToNoticeMs),
          ],
        ],
      )
    : `(${trust.skipped})`;
  return `\n### TUF: a fresh client, refresh + one target lookup (local HTTP)\n\n${verify}\n${freshClientTable(trust)}\n### TUF: signing a targets role with Ed25519\n\n${sign}\n\n### TUF: a cold touch-to-sign\n\n${cold}\n`;
}

/** The fresh client process beside `node -e 0`, python-tuf (where Python has it) and tuf-js (in process, from the table above). */
function freshClientTable(trust: TrustBench): string {
  const fresh = trust.freshClient;
  if (!fresh) return '';
  const tufjs = trust.verify.find((r) => r.targets === fresh.targets);
  const row = (name: string, timing: FreshClientBench['node']) => [name, ms(timing.ms), ms(timing.cpuMs), `${(timing.ms / fresh.node.ms).toFixed(2)}×`];
  const table = formatTable(
    ['client (one process, spawn to exit)', 'median', 'CPU (user + sys)', '× node -e 0'],
    [
      row('node -e 0', fresh.node),
      row('keyward trust client … download', fresh.keyward),
      fresh.pythonTuf
        ? row('python-tuf ngclient: refresh, get_targetinfo, download_target', fresh.pythonTuf)
        : ['python-tuf ngclient', fresh.pythonTufSkipped!, '—', '—'],
      [
        'tuf-js, in process: refresh + lookup, no download (table above)',
        tufjs?.tufjsMs !== undefined ? ms(tufjs.tufjsMs) : (tufjs?.tufjsError ?? '—'),
        '—',
        '—',
      ],
    ],
  );
  return `\n### TUF: a fresh client process, refresh + download one target of ${fresh.targets.toLocaleString('en-US')} (local HTTP; median of ${fresh.runs} runs, interleaved)\n\n${table}\n`;
}

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((n) => !PARTS[n]);
  if (unknown.length) {
    process.stderr.write(`bench: no part ${unknown.join(', ')}; the parts are ${Object.keys(PARTS).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const parts = (names.length ? names : Object.keys(PARTS)).map((name) => PARTS[name]!);
  const started = new Date();
  process.stderr.write(
    `load average at the start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  // pcsc-lite reads PCSCLITE_CSOCK_NAME once per process: the private pcscd must come first.
  const rig = parts.some((p) => p.pcscd) && process.getuid?.() === 0 ? await startPcscd() : undefined;
  // One SoftHSM store for the whole run: SoftHSM reads its configuration once per process.
  if (parts.some((p) => p.softhsm)) useSoftHsmStore(createSoftHsmStore('keyward-bench-'));
  const file = join(fileURLToPath(import.meta.url), '..', 'results', 'latest.json');
  const results: Record<string, unknown> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  try {
    for (const part of parts) {
      const { figures, table } = await part.run({ rig });
      process.stdout.write(`\n${table}`);
      results[part.key] = { date: started.toISOString(), ...(Array.isArray(figures) ? { rows: figures } : (figures as object)) };
    }
  } finally {
    await rig?.stop();
  }
  // The load average tells a reader whether the machine was quiet: on two shared cores it moves every figure.
  results.machine = {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: loadavg(),
  };
  writeFileAtomic(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nfigures written to ${file}\n`);
}

await main(process.argv.slice(2));
