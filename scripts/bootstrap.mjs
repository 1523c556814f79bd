#!/usr/bin/env node
/**
 * Set-up behind `npm run demo`, `npm test` and `npm run bench`: on a fresh machine it installs what
 * is missing (Debian packages with apt-get when root, else it prints the exact command; `npm ci`
 * when node_modules is missing or stale), builds, then runs the task. Plain Node, no dependencies:
 * it runs before node_modules exists.
 *
 *   node scripts/bootstrap.mjs demo|test|bench [args…]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages each task needs; the binary proves a package is there on non-Debian systems. */
const SYSTEM = {
  softhsm2: 'softhsm2-util',
  openssl: 'openssl',
  opensc: 'pkcs11-tool',
  'gnutls-bin': 'p11tool',
  'libengine-pkcs11-openssl': null,
  // PC/SC: headers to build the smartcard binding, pcscd and the vpcd reader the virtual YubiKey plugs into.
  'libpcsclite-dev': null,
  pcscd: 'pcscd',
  'vsmartcard-vpcd': null,
  // The PIV tools Keyward is tested against.
  'yubico-piv-tool': 'yubico-piv-tool',
  'yubikey-manager': 'ykman',
  ykcs11: null,
  // cfssl: the client the CA server is tested with, and the server it is benchmarked against.
  'golang-cfssl': 'cfssl',
  // Docker Swarm, the CA's real client: two dockerd in swarm mode take their node certificates from keyward ca serve.
  'docker.io': 'dockerd',
  // Notary v1 (Docker Content Trust): the notary-server Keyward publishes to and the notary client that reads it back.
  notary: 'notary-server',
  // Image signing: a real OCI registry, and skopeo to push test images into it (the tests fetch Debian 13's
  // skopeo and cosign to check sigstore signatures, which Debian 12's skopeo was built without and Debian 12 lacks).
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  // PostgreSQL: the ledger that several `ca serve` replicas share; the tests start throw-away servers (src/testing/postgres.ts).
  postgresql: null,
  // securesystemslib: the canonical JSON python-tuf signs with, compared byte for byte with Keyward's.
  'python3-securesystemslib': null,
  // strace: the crash tests kill a command exactly when SoftHSM writes its token.object.
  strace: 'strace',
  // Ceremony reports: headless Chromium prints the HTML report to PDF (and screenshots it in the tests), zbarimg
  // decodes its QR code, pdftotext and pdfinfo read the PDF back, cmark-gfm renders the Markdown as GitHub does.
  chromium: 'chromium',
  'zbar-tools': 'zbarimg',
  'poppler-utils': 'pdftotext',
  'cmark-gfm': 'cmark-gfm',
  // Native addons (pkcs11js, smartcard) are compiled by node-gyp; gcc also builds the tests' pcscd shim.
  python3: 'python3',
  make: 'make',
  'g++': 'g++',
  gcc: 'gcc',
};
const NATIVE_BUILD = ['libpcsclite-dev', 'python3', 'make', 'g++'];
const TASK_PACKAGES = {
  demo: ['softhsm2', 'openssl', ...NATIVE_BUILD],
  bench: ['softhsm2', 'openssl', 'pcscd', 'vsmartcard-vpcd', 'yubico-piv-tool', 'golang-cfssl', 'postgresql', 'gcc', ...NATIVE_BUILD],
  test: Object.keys(SYSTEM),
};

function log(message) {
  process.stderr.write(`bootstrap: ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function debianPackageInstalled(name) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

function ensureSystemPackages(task) {
  const wanted = TASK_PACKAGES[task];
  const debian = commandExists('dpkg-query') && commandExists('apt-get');
  const missing = wanted.filter((pkg) => (debian ? !debianPackageInstalled(pkg) : SYSTEM[pkg] && !commandExists(SYSTEM[pkg])));
  if (missing.length === 0) return;
  if (!debian) {
    log(`missing: ${missing.join(', ')}. Install them with your package manager (macOS: brew install softhsm opensc gnutls openssl), then run this again.`);
    process.exit(1);
  }
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages: ${missing.join(' ')}\n  run:  sudo apt-get update && sudo apt-get ${install.join(' ')}\n  then run this again.`);
    process.exit(1);
  }
  log(`installing ${missing.join(' ')} with apt-get`);
  if (aptGet(['update', '-qq']) !== 0 || aptGet(['-qq', ...install]) !== 0) {
    log('apt-get failed; see its output above');
    process.exit(1);
  }
}

/** How long apt-get waits for another apt or dpkg (unattended-upgrades, another bootstrap) to let go of its lock. */
const APT_LOCK_WAIT_SECONDS = 300;

/**
 * apt-get, waiting for a lock another apt holds instead of failing at once. apt-get's own
 * DPkg::Lock::Timeout is not enough: it waits for the dpkg lock but not for the package lists'
 * lock `apt-get update` takes (apt 2.6), and under -qq it waits without a word. So a refusal for
 * a lock is retried here, every 2 s within the bound, and said once.
 */
function aptGet(args) {
  // The C locale, so that the refusal is apt's English message.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  const deadline = Date.now() + APT_LOCK_WAIT_SECONDS * 1000;
  for (let said = false; ; said = true) {
    const result = spawnSync('apt-get', args, { cwd: root, env, stdio: ['inherit', 'inherit', 'pipe'], encoding: 'utf8' });
    if (result.error) throw result.error;
    const lock = result.status !== 0 && /Could not get lock (\S+?)\.?(\s|$)/.exec(result.stderr)?.[1];
    if (!lock || Date.now() >= deadline) {
      process.stderr.write(result.stderr);
      if (lock) log(`gave up waiting for ${lock} after ${APT_LOCK_WAIT_SECONDS / 60} minutes`);
      return result.status ?? 1;
    }
    if (!said) {
      const [, pid, name] = /held by process (\d+)(?: \(([^)]*)\))?/.exec(result.stderr) ?? [];
      const holder = pid ? `, held by ${name ?? 'another program'} (process ${pid})` : '';
      log(`waiting for ${lock}${holder}, at most ${APT_LOCK_WAIT_SECONDS / 60} minutes`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000); // sleep 2 s, then try again
  }
}

/** node_modules is fresh when it was installed from this lockfile by this Node ABI. */
function ensureNodeModules() {
  const stampFile = join(root, 'node_modules', '.keyward-install-stamp');
  const stamp = createHash('sha256')
    .update(readFileSync(join(root, 'package-lock.json')))
    .update(process.versions.modules)
    .digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  log('installing npm packages (npm ci)');
  const env = { ...process.env };
  // node-gyp builds offline only against local headers; Debian's nodejs ships them in /usr/include/node.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  if (run('npm', ['ci', '--no-audit', '--no-fund'], { env }) !== 0) {
    log('npm ci failed; see its output above');
    process.exit(1);
  }
  writeFileSync(stampFile, stamp);
}

function build() {
  if (run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']) !== 0) {
    log('the TypeScript build failed');
    process.exit(1);
  }
}

const [task, ...args] = process.argv.slice(2);
if (!TASK_PACKAGES[task]) {
  log(`usage: node scripts/bootstrap.mjs ${Object.keys(TASK_PACKAGES).join('|')} [args…]`);
  process.exit(2);
}
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 8)) {
  log(`Keyward needs Node 20.8 or later; this is ${process.versions.node}`);
  process.exit(1);
}

ensureSystemPackages(task);
ensureNodeModules();
build();

const node = process.execPath;
switch (task) {
  case 'demo':
    process.exitCode = run(node, [join(root, 'bin/keyward.js'), 'demo', ...args]);
    break;
  case 'test':
    if (run(node, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.test.json']) !== 0) {
      log('type errors in tests or benchmarks');
      process.exit(1);
    }
    // The house rules, checked before anything runs: the linter, then the formatter.
    if (run(node, [join(root, 'node_modules/eslint/bin/eslint.js'), '.']) !== 0) {
      log('the linter found problems (above); fix them, or explain a deliberate exception with an eslint-disable comment');
      process.exit(1);
    }
    if (run(node, [join(root, 'node_modules/prettier/bin/prettier.cjs'), '--check', '--log-level', 'warn', '.']) !== 0) {
      log('the files above are not formatted as the house formats them: npm run format');
      process.exit(1);
    }
    process.exitCode = run(node, [join(root, 'node_modules/ava/entrypoints/cli.mjs'), ...args]);
    break;
  case 'bench':
    process.exitCode = run(node, ['--import', 'tsx', join(root, 'bench/index.ts'), ...args]);
    break;
}
