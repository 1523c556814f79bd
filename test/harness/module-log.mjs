/**
 * Preloaded with `node --import` by test/cli/entry.test.ts: writes every module the process loads
 * to the file named by KEYWARD_MODULE_LOG, one a line. ES modules are written as the loader
 * resolves them (this file is also the loader's hooks module); CommonJS ones, which is how native
 * bindings load, from require's cache at exit.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

let log = process.env.KEYWARD_MODULE_LOG;

export function initialize(data) {
  log = data.log;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}

if (isMainThread) {
  register(import.meta.url, { data: { log } });
  const require = createRequire(import.meta.url);
  process.on('exit', () =>
    appendFileSync(
      log,
      Object.keys(require.cache)
        .map((path) => `${path}\n`)
        .join(''),
    ),
  );
}
