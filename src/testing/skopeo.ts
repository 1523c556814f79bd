/**
 * skopeo for tests: the system's, to push and pull images, and one that checks cosign-format
 * signatures (`sigstoreSigned` policies) and makes them (`--sign-by-sigstore-private-key`,
 * `generate-sigstore-key`). Debian 12's skopeo 1.9.3 cannot do the latter: Debian patched sigstore
 * out of its containers/image ("Debian-local change: sigstore disabled"). Where the system's is
 * older than 1.13, Debian 13's skopeo is fetched as packages through apt (a sources list and state
 * of its own, nothing installed) into the caller's directory, and run through Debian 13's loader
 * and libc beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { runCommand, type CommandResult } from './dockerd.js';

export interface Skopeo {
  version: string;
  /** Where it came from: `system`, or `debian 13 (fetched)`. */
  origin: string;
  run(args: string[]): Promise<CommandResult>;
}

/** Why the system's skopeo cannot push images here, or false when it can. */
export function skopeoUnavailable(): string | false {
  return onPath('skopeo') ? false : 'skopeo is not installed (Debian: apt-get install skopeo)';
}

function versionOf(output: string): [number, number] | undefined {
  const match = /version (\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function systemSkopeo(): Skopeo {
  const version = spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim();
  return { version, origin: 'system', run: (args) => runCommand('skopeo', args) };
}

/**
 * A skopeo that verifies and makes sigstore signatures: the system's when it is 1.13 or later, else
 * Debian 13's fetched into `dir`. Fails with the reason (no network to Debian's archive, say).
 */
export function sigstoreSkopeo(dir: string): Skopeo {
  if (onPath('skopeo')) {
    const system = systemSkopeo();
    const [major, minor] = versionOf(system.version) ?? [0, 0];
    if (major > 1 || (major === 1 && minor >= 13)) return system;
  }
  const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim() || 'amd64';
  for (const sub of ['lists/partial', 'cache/archives/partial', 'debs', 'root']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sources.list'), 'deb http://deb.debian.org/debian trixie main\n');
  const apt = [
    '-qq',
    '-o',
    `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
    '-o',
    'Dir::State::Status=/dev/null',
    '-o',
    `APT::Architecture=${arch}`,
    '-o',
    'APT::Sandbox::User=root',
  ];
  for (const args of [['update'], ['download', 'skopeo', 'libc6']]) {
    const result = spawnSync('apt-get', [...apt, ...args], { cwd: join(dir, 'debs'), encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`apt-get ${args[0]} of Debian 13's skopeo failed: ${result.stderr.trim() || result.error?.message}`);
  }
  for (const deb of readdirSync(join(dir, 'debs'))) {
    const result = spawnSync('dpkg', ['-x', join(dir, 'debs', deb), join(dir, 'root')], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${result.stderr}`);
  }
  const libs = join(dir, 'root', 'usr', 'lib', `${arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`);
  const loader = readdirSync(libs).find((name) => name.startsWith('ld-linux'));
  if (!loader) throw new Error(`Debian 13's libc6 has no loader in ${libs}`);
  const system = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const prefix = ['--library-path', `${libs}:/lib/${system}:/usr/lib/${system}`, join(dir, 'root', 'usr', 'bin', 'skopeo')];
  const run = (args: string[]) => runCommand(join(libs, loader), [...prefix, ...args]);
  const version = spawnSync(join(libs, loader), [...prefix, '--version'], { encoding: 'utf8' }).stdout.trim();
  if (!versionOf(version)) throw new Error(`Debian 13's skopeo does not run here: ${version}`);
  return { version, origin: 'debian 13 (fetched)', run };
}
