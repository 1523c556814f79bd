/**
 * node-hid (USB diagnostics only) is an optional dependency: where its add-on cannot be built, npm
 * installs Keyward without it, and `keyward doctor` says so and reads USB from sysfs.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, packTarball, scratchProject } from '../harness/package.js';
import { PROJECT_ROOT, run } from '../harness/run.js';

test('node-hid is optional, and keyward doctor runs from an install without it', async (t) => {
  const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    optionalDependencies: Record<string, string>;
  };
  t.truthy(manifest.optionalDependencies['node-hid']);
  t.falsy(manifest.dependencies['node-hid']);
  const dir = await scratchProject(t, await packTarball(t), { omitOptional: true });
  t.false(existsSync(join(dir, 'node_modules', 'node-hid')));
  t.true(existsSync(join(dir, 'node_modules', 'keyward', 'package.json')));
  const doctor = await run(process.execPath, [join(dir, 'node_modules', 'keyward', 'bin', 'keyward.js'), 'doctor', '--json'], { cwd: dir, env: cleanEnv() });
  const report = JSON.parse(doctor.stdout) as { usbError?: string };
  t.regex(report.usbError ?? '', /^node-hid: not installed \(an optional dependency/, doctor.stdout + doctor.stderr);
});
