/**
 * Whole commands, timed as processes from spawn to exit, all in the same run and interleaved so
 * that a busy moment hits each alike: `node -e 0` (Node's own start-up), `keyward --version`, one
 * `keyward key sign` on the virtual YubiKey through pcscd, and yubico-piv-tool signing with the
 * same key (`verify-pin` + `test-signature`, its one-signature action that works with OpenSSL 3).
 * For the two signing commands it also counts the APDUs the card answered.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveVirtualCard, type PcscRig, type ServedVirtualCard } from '../test/harness/pcscd.js';
import { KEYWARD_BIN, keyward, run, type RunResult } from '../test/harness/run.js';
import { medianOf } from './measure.js';

export const PROCESS_RUNS = Number(process.env.KEYWARD_BENCH_PROCESS_RUNS ?? 15);

export interface CommandTiming {
  command: string;
  /** Median wall time, spawn to exit. */
  ms: number;
  runsMs: number[];
  /** APDUs one run sent to the card (the same in every run), for commands that use it. */
  apdus?: number;
}

export interface CommandsBench {
  rows: CommandTiming[];
  /** keyward --version against node -e 0: the goal is at most 1.5. */
  versionRatio: number;
  skipped?: string;
}

interface Subject {
  command: string;
  run: () => Promise<RunResult>;
  card?: ServedVirtualCard;
}

/** `rig`: the run's private pcscd (none without root: then only the start-up rows). */
export async function benchCommands(rig: PcscRig | undefined): Promise<CommandsBench> {
  const subjects: Subject[] = [
    { command: 'node -e 0', run: () => run(process.execPath, ['-e', '0']) },
    { command: 'keyward --version', run: () => run(process.execPath, [KEYWARD_BIN, '--version']) },
  ];
  let served: ServedVirtualCard | undefined;
  if (rig) {
    // Firmware 5.4.3: yubico-piv-tool 2.2 authenticates with a 3DES management key only.
    served = await serveVirtualCard(rig, { firmware: '5.4.3' });
    const env = { ...rig.env, KEYWARD_PIN: '123456' };
    const data = join(rig.dir, 'bench-data');
    writeFileSync(data, 'a message of modest size, as a TBSCertificate or TUF role would be');
    // One P-256 key in 9c (PIN policy "always", as yubico-piv-tool generates it), with the
    // certificate that yubico-piv-tool's test-signature needs.
    await mustSucceed(run('yubico-piv-tool', ['-r', served.reader, '-a', 'generate', '-s', '9c', '-A', 'ECCP256', '-o', `${data}.pub`], { env }));
    await mustSucceed(keyward(['cert', 'self-sign', 'yubikey:slot=9c', '--subject', 'CN=bench', '--store', '--out', `${data}.crt`], { env }));
    subjects.push(
      // The signature to stdout, as yubico-piv-tool writes none: a file (--out) adds its fsyncs.
      {
        command: 'keyward key sign (YubiKey 9c, P-256, PIN always)',
        run: () => keyward(['key', 'sign', 'yubikey:slot=9c', '--in', data], { env }),
        card: served,
      },
      {
        command: 'yubico-piv-tool -a verify-pin -a test-signature (same key)',
        run: () =>
          run('yubico-piv-tool', ['-r', served!.reader, '-a', 'verify-pin', '-P', '123456', '-a', 'test-signature', '-s', '9c', '-i', `${data}.crt`], { env }),
        card: served,
      },
    );
  }
  try {
    const runsMs = subjects.map(() => [] as number[]);
    const apdus = subjects.map(() => new Set<number>());
    for (let round = 0; round < PROCESS_RUNS; round++) {
      for (const [i, subject] of subjects.entries()) {
        const before = subject.card?.log.length ?? 0;
        const started = performance.now();
        await mustSucceed(subject.run());
        runsMs[i]!.push(performance.now() - started);
        if (subject.card) apdus[i]!.add((await subject.card.apdusSince(before)).length);
      }
    }
    const rows = subjects.map((subject, i): CommandTiming => {
      if (apdus[i]!.size > 1) throw new Error(`${subject.command} sent a different number of APDUs from run to run: ${[...apdus[i]!].join(', ')}`);
      return { command: subject.command, ms: medianOf(runsMs[i]!), runsMs: runsMs[i]!.map(Math.round), ...(subject.card ? { apdus: [...apdus[i]!][0] } : {}) };
    });
    return {
      rows,
      versionRatio: rows[1]!.ms / rows[0]!.ms,
      ...(rig ? {} : { skipped: 'the signing commands need root (a private pcscd runs in its own mount namespace)' }),
    };
  } finally {
    await served?.stop();
  }
}

/** The result of a benchmarked command, which must have succeeded (a failure's time means nothing). */
export async function mustSucceed(result: Promise<RunResult>): Promise<RunResult> {
  const done = await result;
  if (done.code !== 0) throw new Error(`a benchmarked command failed (exit ${done.code}): ${done.stderr}`);
  return done;
}
