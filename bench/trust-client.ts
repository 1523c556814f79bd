/**
 * The TUF client as users run it: a fresh `keyward trust client … download` process refreshing a
 * large repository and downloading one target over local HTTP, spawn to exit, interleaved with
 * `node -e 0` (Node's own start-up) and, where this Python has it, python-tuf's ngclient doing the
 * same work in its own process. Each run starts from an empty client (only root.json trusted).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Repository } from '../src/trust/repository/repository.js';
import { KEYWARD_BIN, run } from '../test/harness/run.js';
import { staticServer } from '../test/harness/tuf.js';
import { mustSucceed, PROCESS_RUNS } from './commands.js';
import { medianOf } from './measure.js';

/** One command timed as a process: medians of the wall time (spawn to exit) and of its CPU time. */
export interface ProcessTiming {
  ms: number;
  /** User + system CPU time of the process: what the machine's other work does not add to. */
  cpuMs: number;
  runsMs: number[];
}

export interface FreshClientBench {
  targets: number;
  runs: number;
  node: ProcessTiming;
  keyward: ProcessTiming;
  pythonTuf?: ProcessTiming;
  /** Why python-tuf was not run, when it was not. */
  pythonTufSkipped?: string;
}

/**
 * Runs a command line through bash's `time`, which reports the child's CPU time (Node has no way to
 * read a child's rusage); bash adds the same few milliseconds to every row.
 */
async function timedProcess(command: string[]): Promise<{ ms: number; cpuMs: number }> {
  const started = performance.now();
  const result = await mustSucceed(run('bash', ['-c', 'TIMEFORMAT="cpu %3U %3S"; time "$@" >/dev/null', 'bash', ...command]));
  const ms = performance.now() - started;
  const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
  if (!cpu) throw new Error(`bash's time printed no CPU times: ${result.stderr}`);
  return { ms, cpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000 };
}

/** python-tuf's client doing what `keyward trust client … download` does. */
const PYTHON_TUF = `
import sys
from tuf.ngclient import Updater
metadata_dir, metadata_url, target_dir, target_url, name = sys.argv[1:]
updater = Updater(metadata_dir, metadata_url, target_dir, target_url)
updater.refresh()
info = updater.get_targetinfo(name)
if info is None:
    sys.exit(f"python-tuf did not find {name}")
updater.download_target(info)
`;

/** Why `python3` cannot run python-tuf's client, or undefined when it can. */
function pythonTufMissing(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import tuf.ngclient'], { encoding: 'utf8' });
  if (probe.error) return 'not run: no python3 on PATH';
  if (probe.status !== 0) return 'not run: python3 has no tuf module (Debian 12 packages no python-tuf)';
  return undefined;
}

/** `repo` holds `target` (a real file) among `targets` targets in all. */
export async function benchFreshClient(repo: Repository, targets: number, target: string): Promise<FreshClientBench> {
  const server = await staticServer(repo.publicDir);
  const work = mkdtempSync(join(tmpdir(), 'keyward-bench-fresh-client-'));
  const root = readFileSync(join(repo.publicDir, 'metadata', '1.root.json'));
  const metadataUrl = `${server.url}/metadata`;
  const targetUrl = `${server.url}/targets`;
  const pythonTufSkipped = pythonTufMissing();
  /** A client directory trusting only root.json, as after `trust client init`. */
  const freshClient = (name: string) => {
    const dir = join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'metadata'), { recursive: true });
    writeFileSync(join(dir, 'metadata', 'root.json'), root);
    return { metadata: join(dir, 'metadata'), downloads: join(dir, 'downloads') };
  };
  /** Each subject's command line for one run, from a fresh client directory. */
  const subjects: Array<() => string[]> = [
    () => [process.execPath, '-e', '0'],
    () => {
      const dir = freshClient('keyward');
      return [
        process.execPath,
        KEYWARD_BIN,
        ...['trust', 'client', '--metadata-dir', dir.metadata, '--metadata-url', metadataUrl],
        ...['--target-name', target, '--target-base-url', targetUrl, '--target-dir', dir.downloads, 'download'],
      ];
    },
  ];
  if (!pythonTufSkipped) {
    subjects.push(() => {
      const dir = freshClient('python-tuf');
      mkdirSync(dir.downloads);
      return ['python3', '-c', PYTHON_TUF, dir.metadata, metadataUrl, dir.downloads, targetUrl, target];
    });
  }
  try {
    const runs = subjects.map(() => [] as Array<{ ms: number; cpuMs: number }>);
    // Interleaved, so that a busy moment on the shared cores hits each alike.
    for (let round = 0; round < PROCESS_RUNS; round++) {
      for (const [i, subject] of subjects.entries()) runs[i]!.push(await timedProcess(subject()));
    }
    const timing = (i: number): ProcessTiming => ({
      ms: medianOf(runs[i]!.map((r) => r.ms)),
      cpuMs: medianOf(runs[i]!.map((r) => r.cpuMs)),
      runsMs: runs[i]!.map((r) => Math.round(r.ms)),
    });
    return {
      targets,
      runs: PROCESS_RUNS,
      node: timing(0),
      keyward: timing(1),
      ...(pythonTufSkipped ? { pythonTufSkipped } : { pythonTuf: timing(2) }),
    };
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}
