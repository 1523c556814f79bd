/**
 * What `npm pack` publishes: the compiled code, its typings, the binary, the README and the licence
 * text, and nothing else; every entry point package.json names is in it.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packList } from '../harness/package.js';
import { PROJECT_ROOT } from '../harness/run.js';

const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  license: string;
  main: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

test('the tarball holds the Apache-2.0 licence text package.json names', async (t) => {
  const { files } = await packList();
  t.is(manifest.license, 'Apache-2.0');
  t.true(
    files.some((f) => f.path === 'LICENSE'),
    'LICENSE is packed',
  );
  const text = readFileSync(join(PROJECT_ROOT, 'LICENSE'), 'utf8');
  t.regex(text, /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//);
  t.regex(text, /END OF TERMS AND CONDITIONS/);
});

test('no source maps, no TypeScript sources, no tests, no build state: only what runs and its typings', async (t) => {
  const { files } = await packList();
  const paths = files.map((f) => f.path);
  t.deepEqual(
    paths.filter((p) => p.endsWith('.map')),
    [],
    'source maps would point at sources the tarball lacks',
  );
  t.deepEqual(
    paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')),
    [],
  );
  t.deepEqual(
    paths.filter((p) => !['LICENSE', 'README.md', 'package.json'].includes(p) && !/^(bin\/|dist\/src\/|dist\/cli\/)/.test(p)),
    [],
    'everything else is under bin/, dist/src/ or dist/cli/',
  );
  t.deepEqual(
    paths.filter((p) => !/\.(js|d\.ts|md|json)$/.test(p) && p !== 'LICENSE'),
    [],
    'compiled code and typings only',
  );
  // Each compiled module comes with its typings.
  const missing = paths.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js') && !paths.includes(p.replace(/\.js$/, '.d.ts')));
  t.deepEqual(missing, []);
});

test('every entry point package.json names (exports with their types, main, bin) is packed', async (t) => {
  const { files } = await packList();
  const paths = new Set(files.map((f) => f.path));
  const targets = [
    manifest.main,
    ...Object.values(manifest.bin),
    ...Object.values(manifest.exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target))),
  ].map((p) => p.replace(/^\.\//, ''));
  t.true(targets.length >= 4);
  t.deepEqual(
    targets.filter((p) => !paths.has(p)),
    [],
  );
});
