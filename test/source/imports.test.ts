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
  t.deepEqual(
    cycles.map((cycle) => cycle.join(' → ')),
    [],
    `import cycles:\n${cycles.map((cycle) => `  ${cycle.join(' → ')}`).join('\n')}`,
  );
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
  t.deepEqual(
    importCycles(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', []],
      ]),
    ),
    [],
  );
});

/**
 * Arrows point down (DESIGN): a layer imports nothing from the layers above it. Device drivers are
 * plain drivers a library user could take alone; the X.509 codec is used by drivers, so it imports
 * no keystore; nothing under src/ imports the CLI; the CA and trust know nothing of each other, nor of
 * the ceremonies that drive them, and nothing below src/image (images: references, the registry
 * client, signatures) knows it.
 */
const FORBIDDEN: Array<[from: string, to: string[]]> = [
  ['src/hsm/', ['src/keystore/', 'src/certificates/', 'src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  ['src/x509/', ['src/keystore/', 'src/certificates/', 'src/hsm/', 'src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  ['src/crypto/', ['src/keystore/', 'src/certificates/', 'src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  // One bounded HTTP exchange, for every client of a server Keyward does not trust; it knows none of them.
  ['src/http/', ['src/hsm/', 'src/keystore/', 'src/certificates/', 'src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  ['src/keystore/', ['src/certificates/', 'src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  ['src/certificates/', ['src/ca/', 'src/trust/', 'src/image/', 'src/ceremony/', 'cli/']],
  ['src/ca/', ['src/trust/', 'src/image/', 'src/testing/', 'src/ceremony/', 'cli/']],
  ['src/trust/', ['src/ca/', 'src/image/', 'src/testing/', 'src/ceremony/', 'cli/']],
  // What knows images stands on the keystore, x509 and crypto (and trust, were it needed); it knows no CA.
  ['src/image/', ['src/ca/', 'src/certificates/', 'src/testing/', 'src/ceremony/', 'cli/']],
  ['src/', ['cli/']],
];

test('imports point down the layers: drivers and the X.509 codec import no keystore, src/ no CLI, CA and trust not each other nor images', (t) => {
  const graph = importGraph(sourceFiles());
  t.true((graph.get('src/ca/authority.ts') ?? []).includes('src/certificates/signer.ts'), 'the walk sees the CA above the signing layer');
  t.true((graph.get('src/image/sign.ts') ?? []).includes('src/keystore/backend.ts'), 'the walk sees images above the keystore');
  const upward = [...graph].flatMap(([file, imports]) =>
    imports
      .filter((target) => FORBIDDEN.some(([from, above]) => file.startsWith(from) && above.some((layer) => target.startsWith(layer))))
      .map((target) => `${file} → ${target}`),
  );
  t.deepEqual(upward, [], `imports that point up:\n  ${upward.join('\n  ')}`);
});
