/**
 * p11-kit's module registry (pkcs11.conf(5)), read as p11-kit reads it: one `<name>.module` file
 * per module in the system directory, then the packages' directory, the first file of a name
 * winning; its `module:` entry is the library, a relative one taken from p11-kit's module
 * directory. Only the system-wide directories are read: they are what root installed, whereas a
 * user's ~/.config/pkcs11 is not an allowance Keyward should extend to files it reads.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** System configuration first (it overrides), then what packages install. */
export const P11KIT_REGISTRIES = ['/etc/pkcs11/modules', '/usr/share/p11-kit/modules'];

/** p11-kit's module directory (P11_MODULE_PATH, fixed when p11-kit is built), as distributions set it. */
export const P11KIT_MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/pkcs11', '/usr/lib/aarch64-linux-gnu/pkcs11', '/usr/lib64/pkcs11', '/usr/lib/pkcs11'];

/** p11-kit ignores (and warns about) registry files not named like this. */
const MODULE_FILE = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\.module$/;

export interface RegisteredModule {
  name: string;
  /** The library's path: absolute as written, or found in p11-kit's module directory. */
  path: string;
  /** The registry file that names it. */
  registeredIn: string;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return []; // a missing registry directory registers nothing
  }
}

/** The `module:` entry of a registry file (`key: value` lines, `#` comments). */
function moduleEntry(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const match = /^\s*module\s*:(.*)$/.exec(line);
    if (match && match[1]!.trim()) return match[1]!.trim();
  }
  return undefined;
}

function libraryPath(entry: string): string | undefined {
  if (isAbsolute(entry)) return entry;
  return P11KIT_MODULE_DIRS.map((dir) => join(dir, entry)).find((path) => existsSync(path));
}

/** Every module registered with p11-kit, by name. */
export function registeredModules(registries: readonly string[] = P11KIT_REGISTRIES): RegisteredModule[] {
  const byName = new Map<string, RegisteredModule | undefined>();
  for (const dir of registries) {
    for (const file of listDir(dir)) {
      const name = MODULE_FILE.exec(file)?.[1];
      const entry = name === undefined || byName.has(name) ? undefined : moduleEntry(join(dir, file));
      if (entry === undefined) continue; // a file without `module:` leaves the name to the next directory
      const path = libraryPath(entry);
      byName.set(name!, path ? { name: name!, path, registeredIn: join(dir, file) } : undefined);
    }
  }
  return [...byName.values()].filter((m): m is RegisteredModule => m !== undefined);
}
