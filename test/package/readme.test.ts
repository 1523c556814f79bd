/**
 * The README's library examples compile for a reader: taken from README.md (so they cannot drift),
 * in a project made with `tsc --init` (TypeScript's defaults: DOM in lib, skipLibCheck on,
 * exactOptionalPropertyTypes…) and @types/node, against the package as `npm pack` makes it.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packTarball, readmeBlocks, scratchProject, TSC } from '../harness/package.js';
import { run } from '../harness/run.js';

export const LIBRARY_HEADING = '## As a library';

test("the README's library examples compile in a tsc --init project against the packed package", async (t) => {
  const blocks = readmeBlocks(LIBRARY_HEADING);
  t.true(blocks.length >= 2, 'the keystore and TUF examples');
  const dir = await scratchProject(t, await packTarball(t), { link: ['typescript', '@types/node'] });
  const init = await run(process.execPath, [TSC, '--init'], { cwd: dir });
  t.is(init.code, 0, init.stdout + init.stderr);
  // What a reader does for Node, as the generated file's own comment says (and installs @types/node).
  const generated = readFileSync(join(dir, 'tsconfig.json'), 'utf8');
  t.regex(generated, /^\s*"types": \[\],$/m, 'tsc --init still writes "types": [] for us to change');
  t.notRegex(generated, /^\s*"lib":/m, 'no lib: the default one, with DOM');
  t.regex(generated, /^\s*"skipLibCheck": true,/m);
  writeFileSync(join(dir, 'library.ts'), blocks.join('\n'));
  const untouched = await run(process.execPath, [TSC, '-p', '.', '--noEmit'], { cwd: dir });
  t.is(untouched.stdout + untouched.stderr, '', 'no diagnostics with the tsconfig.json exactly as tsc --init wrote it');
  writeFileSync(join(dir, 'tsconfig.json'), generated.replace(/^(\s*)"types": \[\],$/m, '$1"types": ["node"],'));

  const compiled = await run(process.execPath, [TSC, '-p', '.', '--noEmit'], { cwd: dir });
  t.is(compiled.stdout + compiled.stderr, '', 'no diagnostics with the defaults');
  t.is(compiled.code, 0);

  // Keyward's own declarations also pass a full check (other packages' are their business).
  const strict = await run(process.execPath, [TSC, '-p', '.', '--noEmit', '--skipLibCheck', 'false'], { cwd: dir });
  const ours = strict.stdout.split('\n').filter((line) => line.includes('node_modules/keyward/') || line.startsWith('library.ts'));
  t.deepEqual(ours, [], 'no diagnostics in keyward or the example with skipLibCheck off');
});
