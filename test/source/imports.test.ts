/**
 * No import cycles in src/ and cli/: every module can be read, tested and loaded after the modules
 * it imports, never in a loop with them. A cycle shows as the files that import each other, in order.
 */
import test from 'ava';
import { importCycles, importGraph, sourceFiles } from '../harness/source.js';

test('src/ and cli/ import one another without a cycle', (t) => {
  const files = sourceFiles();
  t.true(files.some((f) => f.path === 'src/errors.ts') && files.some((f) => f.path === 'cli/main.ts'), 'the walk finds the sources');
  const graph = importGraph(files);
  t.true((graph.get('src/keystore/keystore.ts') ?? []).includes('src/keystore/backend.ts'), 'type imports are edges too');
  const cycles = importCycles(graph);
  t.deepEqual(cycles.map((cycle) => cycle.join(' → ')), [], `import cycles:\n${cycles.map((cycle) => `  ${cycle.join(' → ')}`).join('\n')}`);
});

test('the cycle finder finds cycles, and shows each as a path back to its start', (t) => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['e.ts']],
    ['e.ts', []],
    ['f.ts', ['f.ts']],
  ]);
  t.deepEqual(importCycles(graph), [
    ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
    ['f.ts', 'f.ts'],
  ]);
  t.deepEqual(importCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});
