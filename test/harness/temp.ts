/**
 * Temporary directories for tests, each removed when its test ends, whether it passed or failed (ava
 * runs a test's teardowns either way). Harness parts that make directories take the test's `t` too.
 */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What cleaning up needs of a test: ava's `t`, or a `Cleanup` where there is no test. */
export type Teardown = Pick<ExecutionContext, 'teardown'>;

/** A new directory in the system's temporary directory, removed with everything in it at `t`'s teardown. */
export function tempDir(t: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Teardowns for code outside a test (a benchmark, a helper with its own `finally`): `run()` runs them, last first. */
export class Cleanup implements Teardown {
  readonly #steps: Array<() => unknown> = [];

  teardown(step: () => unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) await step();
  }
}
