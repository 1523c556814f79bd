/** Throughput measurement: run an operation for a fixed time, with `concurrency` in flight. */

export interface Measurement {
  name: string;
  opsPerSecond: number;
  operations: number;
  seconds: number;
  concurrency: number;
}

export const DEFAULT_SECONDS = Number(process.env.KEYWARD_BENCH_SECONDS ?? 1.5);
export const REPEATS = Number(process.env.KEYWARD_BENCH_REPEATS ?? 3);

/** The middle value (the upper one of an even count). */
export function medianOf(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** Runs a measurement `REPEATS` times and keeps the median: two cores schedule threads noisily. */
export async function median(measure: () => Measurement | Promise<Measurement>, repeats = REPEATS): Promise<Measurement & { runs: number[] }> {
  const runs: Measurement[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await measure());
  runs.sort((a, b) => a.opsPerSecond - b.opsPerSecond);
  return { ...runs[Math.floor(runs.length / 2)]!, runs: runs.map((r) => Math.round(r.opsPerSecond)) };
}

/**
 * Several measurements taken in turn, `repeats` rounds, each kept as the median of its runs: on
 * shared cores the load moves from second to second, so figures meant to be divided by each other
 * are taken side by side rather than one after the other.
 */
export async function interleavedMedians<K extends string>(
  measures: Record<K, () => Measurement | Promise<Measurement>>,
  repeats = REPEATS,
): Promise<Record<K, Measurement & { runs: number[] }>> {
  const runs = new Map<K, Measurement[]>();
  for (let round = 0; round < repeats; round++) {
    for (const [name, measure] of Object.entries(measures) as Array<[K, () => Measurement | Promise<Measurement>]>) {
      runs.set(name, [...(runs.get(name) ?? []), await measure()]);
    }
  }
  const result = {} as Record<K, Measurement & { runs: number[] }>;
  for (const [name, taken] of runs) {
    taken.sort((a, b) => a.opsPerSecond - b.opsPerSecond);
    result[name] = { ...taken[Math.floor(taken.length / 2)]!, runs: taken.map((r) => Math.round(r.opsPerSecond)) };
  }
  return result;
}

/** A synchronous loop (for raw driver calls that block the thread). */
export function measureSync(name: string, op: () => void, seconds = DEFAULT_SECONDS): Measurement {
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) op();
  let operations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    op();
    operations++;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, opsPerSecond: operations / elapsed, operations, seconds: elapsed, concurrency: 1 };
}

/** `concurrency` workers each awaiting one operation at a time; `op` is told which worker calls. */
export async function measureAsync(name: string, op: (worker: number) => Promise<unknown>, concurrency = 1, seconds = DEFAULT_SECONDS): Promise<Measurement> {
  const warmEnd = performance.now() + 200;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < warmEnd) await op(worker);
    }),
  );
  let operations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        await op(worker);
        operations++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { name, opsPerSecond: operations / elapsed, operations, seconds: elapsed, concurrency };
}

export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`, ...rows.map(line)].join('\n');
}
