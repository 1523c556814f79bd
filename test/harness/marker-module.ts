/**
 * A shared object that tells whether anything loaded it: its constructor, which runs inside dlopen
 * before any PKCS#11 call could be refused, writes a marker file. It stands for the code an
 * attacker would name in a file Keyward reads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type Teardown } from './temp.js';

export interface MarkerModule {
  /** Its own directory (root-owned, mode 700), removed at the test's teardown. */
  dir: string;
  /** The shared object. */
  path: string;
  /** The file its constructor writes. */
  marker: string;
  loaded(): boolean;
  /** Forgets an earlier load, for the next check. */
  reset(): void;
}

export function markerModule(t: Teardown): MarkerModule {
  const dir = tempDir(t, 'keyward-marker-');
  const marker = join(dir, 'loaded');
  const source = join(dir, 'marker.c');
  const path = join(dir, 'libmarker-pkcs11.so');
  writeFileSync(
    source,
    `#include <stdio.h>\n` +
      `__attribute__((constructor)) static void mark_loaded(void) {\n` +
      `  FILE *f = fopen(${JSON.stringify(marker)}, "w");\n` +
      `  if (f) { fputs("loaded\\n", f); fclose(f); }\n` +
      `}\n`,
  );
  const built = spawnSync('gcc', ['-shared', '-fPIC', '-o', path, source], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cannot build the marker module: ${built.stderr || built.error}`);
  return { dir, path, marker, loaded: () => existsSync(marker), reset: () => rmSync(marker, { force: true }) };
}
