/** p11-kit's module registry, read as p11-kit reads it: the modules it names are the ones root installed for every program. */
import test, { type ExecutionContext } from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { P11KIT_MODULE_DIRS, registeredModules } from '../../../src/hsm/pkcs11/p11-kit.js';
import { tempDir } from '../../harness/temp.js';

function registry(t: ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t, 'keyward-p11kit-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test("the system registry overrides the packages' one; relative modules are found in p11-kit's module directory", (t) => {
  const system = registry(t, {
    'vendor.module': "# the administrator's choice\nmodule: /opt/vendor/lib/libvendor-pkcs11.so\n",
    'partial.module': 'critical: yes\n', // no module: the packages' file still says which
  });
  const packages = registry(t, {
    'vendor.module': 'module: /usr/lib/vendor/libold.so\n',
    'partial.module': 'module: /usr/lib/partial/libpartial.so\n',
    'opensc.module': 'module:   opensc-pkcs11.so  \n',
    'Not a module name.module': 'module: /tmp/ignored.so\n',
    README: 'module: /tmp/ignored-too.so\n',
  });
  const modules = Object.fromEntries(registeredModules([system, packages]).map((m) => [m.name, m.path]));
  t.is(modules.vendor, '/opt/vendor/lib/libvendor-pkcs11.so');
  t.is(modules.partial, '/usr/lib/partial/libpartial.so');
  const opensc = P11KIT_MODULE_DIRS.map((dir) => join(dir, 'opensc-pkcs11.so')).find((path) => existsSync(path));
  t.truthy(opensc, 'OpenSC is installed (npm test installs it)');
  t.is(modules.opensc, opensc!);
  t.deepEqual(Object.keys(modules).sort(), ['opensc', 'partial', 'vendor']);
});

test('no registry directories: nothing registered', (t) => {
  t.deepEqual(registeredModules([join(tmpdir(), 'keyward-no-such-registry')]), []);
});
