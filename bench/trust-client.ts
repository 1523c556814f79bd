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

export interface FreshClientBench {
  targets: number;
  runs: number;
  nodeMs: number;
  keywardMs: number;
  keywardRunsMs: number[];
  pythonTufMs?: number;
  /** Why python-tuf was not run, when it was not. */
  pythonTufSkipped?: string;
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
  const server = await staticServer(repo.layout.dir);
  const work = mkdtempSync(join(tmpdir(), 'keyward-bench-fresh-client-'));
  const root = readFileSync(join(repo.layout.metadataDir, '1.root.json'));
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
  const subjects: Array<() => Promise<unknown>> = [
    () => mustSucceed(run(process.execPath, ['-e', '0'])),
    () => {
      const dir = freshClient('keyward');
      return mustSucceed(
        run(process.execPath, [
          KEYWARD_BIN,
          'trust',
          'client',
          '--metadata-dir',
          dir.metadata,
          '--metadata-url',
          metadataUrl,
          '--target-name',
          target,
          '--target-base-url',
          targetUrl,
          '--target-dir',
          dir.downloads,
          'download',
        ]),
      );
    },
  ];
  if (!pythonTufSkipped) {
    subjects.push(() => {
      const dir = freshClient('python-tuf');
      mkdirSync(dir.downloads);
      return mustSucceed(run('python3', ['-c', PYTHON_TUF, dir.metadata, metadataUrl, dir.downloads, targetUrl, target]));
    });
  }
  try {
    const runsMs = subjects.map(() => [] as number[]);
    // Interleaved, so that a busy moment on the shared cores hits each alike.
    for (let round = 0; round < PROCESS_RUNS; round++) {
      for (const [i, subject] of subjects.entries()) {
        const started = performance.now();
        await subject();
        runsMs[i]!.push(performance.now() - started);
      }
    }
    return {
      targets,
      runs: PROCESS_RUNS,
      nodeMs: medianOf(runsMs[0]!),
      keywardMs: medianOf(runsMs[1]!),
      keywardRunsMs: runsMs[1]!.map(Math.round),
      ...(pythonTufSkipped ? { pythonTufSkipped } : { pythonTufMs: medianOf(runsMs[2]!) }),
    };
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}
