/**
 * Which PKCS#11 modules a key URI read from a file may load. Loading a module runs its code in
 * this process (its constructors run at dlopen, before any PKCS#11 call), and that process then
 * hands it PINs: so a file that others can edit (a CA directory on removable media, a ceremony
 * script, a trust repository) must not choose the code. A file may name only a module the
 * operator allowed:
 *
 *  - the module the operator chose for this run (`--module`, KEYWARD_PKCS11_MODULE);
 *  - the installed SoftHSM2, Keyward's default;
 *  - a module registered with p11-kit in the system registry (root installed it), honoured only
 *    while root owns its `.module` file and nobody else can write it;
 *  - a path listed in the allow-list, /etc/keyward/pkcs11-modules (one absolute path a line,
 *    `#` comments), honoured only while root owns it and nobody else can write it.
 *
 * Paths are compared after every symlink is resolved, so neither `../` nor a link passes for an
 * allowed module, and the resolved path is what gets loaded.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { keywardError } from '../../errors.js';
import { P11KIT_REGISTRIES, registeredModules } from './p11-kit.js';

export const MODULE_ALLOW_LIST = '/etc/keyward/pkcs11-modules';

export interface ModulePolicy {
  /** Modules the operator chose for this run: allowed as they are. */
  operatorModules?: readonly string[];
  /** The module Keyward loads when nothing names one (the installed SoftHSM2). */
  defaultModule?: string;
  /** The allow-list file (default /etc/keyward/pkcs11-modules). */
  allowList?: string;
  /** p11-kit registry directories (default: the system ones). */
  registries?: readonly string[];
}

/** The file a URI came from, and the field of it that holds the URI. */
export interface ModuleRequester {
  file: string;
  field?: string;
}

const ROOT = 0;

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

const sameModule = (real: string) => (candidate: string | undefined) => candidate !== undefined && realPath(candidate) === real;

/**
 * Who besides `trusted` owners could change what a path holds: its owner, or anyone with write
 * access to it or to a directory above it (they could rename another file into its place). A
 * sticky directory (/tmp) is safe above an entry a trusted user owns: only that owner may replace it.
 */
function untrustedWriter(real: string, trusted: readonly number[]): { path: string; reason: string } | undefined {
  for (let path = real; ; path = dirname(path)) {
    const stat = statSync(path);
    if (!trusted.includes(stat.uid)) return { path, reason: `owned by uid ${stat.uid}` };
    const sticky = stat.isDirectory() && (stat.mode & 0o1000) !== 0;
    if ((stat.mode & 0o022) !== 0 && !sticky) return { path, reason: `writable by its group or others (mode ${(stat.mode & 0o7777).toString(8)})` };
    if (dirname(path) === path) return undefined;
  }
}

function describe(writer: { path: string; reason: string }, target: string): string {
  return `${writer.path === target ? 'it' : `${writer.path}, a directory above it,`} is ${writer.reason}`;
}

/** The absolute paths the allow-list names; none when there is no allow-list. */
export function readAllowList(file: string): string[] {
  const real = realPath(file);
  if (!real) return [];
  const writer = untrustedWriter(real, [ROOT]);
  if (writer) {
    throw keywardError('MODULE_ALLOW_LIST_INSECURE', `refusing to honour the PKCS#11 module allow-list ${file}: ${describe(writer, real)}`, {
      hint: `only root may be able to change it, or whoever can would choose the code Keyward loads: chown root:root ${writer.path} && chmod go-w ${writer.path}`,
      details: { allowList: file, path: writer.path },
    });
  }
  return readFileSync(real, 'utf8')
    .split('\n')
    .map((line, index) => ({ path: line.replace(/#.*/, '').trim(), line: index + 1 }))
    .filter(({ path }) => path !== '')
    .map(({ path, line }) => {
      if (!isAbsolute(path)) {
        throw keywardError('MODULE_ALLOW_LIST_INVALID', `${file} line ${line}: "${path}" is not an absolute path`, {
          hint: 'list one module a line, by its absolute path, e.g. /usr/lib/vendor/libvendor-pkcs11.so',
        });
      }
      return path;
    });
}

/**
 * Who besides root could change a p11-kit registry file: the file as read (links resolved) and the
 * directories above it, and the directory the registry lists it in.
 */
function registryWriter(file: string): { path: string; reason: string } | undefined {
  return untrustedWriter(realpathSync(file), [ROOT]) ?? untrustedWriter(dirname(file), [ROOT]);
}

/** Which allowance covers a module (by real path), if any. */
function allowanceFor(real: string, policy: ModulePolicy): 'operator' | 'standing' | undefined {
  const same = sameModule(real);
  if ((policy.operatorModules ?? []).some(same)) return 'operator';
  if (same(policy.defaultModule)) return 'standing';
  // A registry file allows as the allow-list does, so it counts only while root alone can change it:
  // whoever else can would register any library there.
  const registrations = registeredModules(policy.registries ?? P11KIT_REGISTRIES)
    .filter((m) => same(m.path))
    .map((m) => ({ file: m.registeredIn, writer: registryWriter(m.registeredIn) }));
  if (registrations.some(({ writer }) => !writer)) return 'standing';
  // Read last: an allow-list that is not safe to honour then matters only when nothing else allows the module.
  if (readAllowList(policy.allowList ?? MODULE_ALLOW_LIST).some(same)) return 'standing';
  const unsafe = registrations[0];
  if (unsafe?.writer) {
    throw keywardError(
      'MODULE_REGISTRY_INSECURE',
      `refusing to honour the p11-kit registration ${unsafe.file} of PKCS#11 module ${real}: ${describe(unsafe.writer, realpathSync(unsafe.file))}`,
      {
        hint: `only root may be able to change it, or whoever can would choose the code Keyward loads: chown root:root ${unsafe.writer.path} && chmod go-w ${unsafe.writer.path}`,
        details: { module: real, registration: unsafe.file, path: unsafe.writer.path },
      },
    );
  }
  return undefined;
}

/**
 * The module a URI from a file may load: `path` when the operator allowed it, resolved to its real
 * path (load that, not `path`, so a link cannot be switched in between); otherwise an error that
 * says how to allow it.
 */
export function requireAllowedModule(path: string, requester: ModuleRequester, policy: ModulePolicy = {}): string {
  const real = realpathSync(path);
  const shown = real === path ? path : `${path} (${real})`;
  const from = requester.field ? `${requester.field} in ${requester.file}` : requester.file;
  const details = { module: real, file: requester.file, ...(requester.field ? { field: requester.field } : {}) };
  const allowance = allowanceFor(real, policy);
  if (!allowance) {
    throw keywardError(
      'MODULE_NOT_ALLOWED',
      `refusing to load PKCS#11 module ${shown}: the key URI in ${from} names it, and a URI read from a file may load only a module the operator allowed`,
      {
        hint:
          `if you trust this module, allow it: add the line "${real}" to ${policy.allowList ?? MODULE_ALLOW_LIST} (owned by root, writable by root only), ` +
          `register it with p11-kit (a file /etc/pkcs11/modules/<name>.module saying "module: ${real}"), or choose it for this run with --module ${real}. ` +
          `If you did not expect this module, ${requester.file} was changed: restore it from a trusted copy`,
        details,
      },
    );
  }
  // A standing allowance names a path, not the code at it: if someone besides root (or the user
  // running Keyward) can replace the library, that person chooses the code, and the allowance
  // means nothing. The operator's own choice for this run is theirs to make and is not second-guessed.
  const writer = allowance === 'standing' ? untrustedWriter(real, [ROOT, process.geteuid?.() ?? ROOT]) : undefined;
  if (writer) {
    throw keywardError(
      'MODULE_NOT_ALLOWED',
      `refusing to load PKCS#11 module ${shown}, named by ${from}: ${describe(writer, real)}, so others could replace the code it loads`,
      {
        hint: `make it writable by root only (chown root:root ${writer.path} && chmod go-w ${writer.path}), or choose it yourself for this run with --module ${real}`,
        details,
      },
    );
  }
  return real;
}
