/**
 * skopeo and cosign for tests: the system's skopeo, to push and pull images, and tools that check
 * (and make) cosign-format signatures: a skopeo whose containers/image verifies `sigstoreSigned`
 * policies (`--sign-by-sigstore-private-key`, `generate-sigstore-key` too), and cosign itself.
 * Debian 12 has no such tools: its skopeo 1.9.3 had sigstore patched out of containers/image
 * ("Debian-local change: sigstore disabled"), and it packages no cosign. Where the system has
 * none, Debian 13's packages are fetched through apt (a sources list and state of its own, nothing
 * installed) into the caller's directory, and run through Debian 13's loader and libc beside them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onPath } from './commands.js';
import { runCommand, type CommandResult } from './dockerd.js';

export interface Tool {
  version: string;
  /** Where it came from: `system`, or `debian 13 (fetched)`. */
  origin: string;
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<CommandResult>;
}

/** Why the system's skopeo cannot push images here, or false when it can. */
export function skopeoUnavailable(): string | false {
  return onPath('skopeo') ? false : 'skopeo is not installed (Debian: apt-get install skopeo)';
}

function versionOf(output: string): [number, number] | undefined {
  const match = /(?:version|GitVersion:)\s*v?(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function systemTool(command: string, versionArgs: string[]): Tool {
  const version = spawnSync(command, versionArgs, { encoding: 'utf8' }).stdout.trim();
  return { version, origin: 'system', run: (args, env) => runCommand(command, args, env) };
}

export function systemSkopeo(): Tool {
  return systemTool('skopeo', ['--version']);
}

/** Debian 13's packages unpacked into `dir`, and a runner for a program among them. */
function fetchDebian13(dir: string, packages: string[]): (program: string, versionArgs: string[]) => Tool {
  const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim() || 'amd64';
  for (const sub of ['lists/partial', 'cache/archives/partial', 'debs', 'root']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sources.list'), 'deb http://deb.debian.org/debian trixie main\n');
  const apt = [
    '-qq',
    ...['-o', `Dir::Etc::SourceList=${join(dir, 'sources.list')}`, '-o', 'Dir::Etc::SourceParts=/dev/null'],
    ...['-o', `Dir::State::Lists=${join(dir, 'lists')}`, '-o', `Dir::Cache=${join(dir, 'cache')}`, '-o', 'Dir::State::Status=/dev/null'],
    ...['-o', `APT::Architecture=${arch}`, '-o', 'APT::Sandbox::User=root'],
  ];
  for (const args of [['update'], ['download', ...packages, 'libc6']]) {
    const result = spawnSync('apt-get', [...apt, ...args], { cwd: join(dir, 'debs'), encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`apt-get ${args[0]} of Debian 13's ${packages.join(', ')} failed: ${result.stderr.trim() || result.error?.message}`);
  }
  for (const deb of readdirSync(join(dir, 'debs'))) {
    const result = spawnSync('dpkg', ['-x', join(dir, 'debs', deb), join(dir, 'root')], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${result.stderr}`);
  }
  const system = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const libs = join(dir, 'root', 'usr', 'lib', system);
  const loader = readdirSync(libs).find((name) => name.startsWith('ld-linux'));
  if (!loader) throw new Error(`Debian 13's libc6 has no loader in ${libs}`);
  return (program, versionArgs) => {
    const prefix = ['--library-path', `${libs}:/lib/${system}:/usr/lib/${system}`, join(dir, 'root', 'usr', 'bin', program)];
    const version = spawnSync(join(libs, loader), [...prefix, ...versionArgs], { encoding: 'utf8' });
    const text = `${version.stdout}${version.stderr}`;
    if (!versionOf(text) && !/GitVersion/.test(text)) throw new Error(`Debian 13's ${program} does not run here: ${text.slice(0, 300)}`);
    return {
      version: text.trim().split('\n').pop()!,
      origin: 'debian 13 (fetched)',
      run: (args, env) => runCommand(join(libs, loader), [...prefix, ...args], env),
    };
  };
}

/**
 * A skopeo that checks and makes sigstore signatures, and cosign: the system's where they can (skopeo
 * 1.13 or later), else Debian 13's, fetched into `dir` in one go. Fails with the reason (no way to
 * Debian's archive, say).
 */
export function sigstoreTools(dir: string): { skopeo: Tool; cosign: Tool } {
  let skopeo: Tool | undefined;
  if (onPath('skopeo')) {
    const system = systemSkopeo();
    const [major, minor] = versionOf(system.version) ?? [0, 0];
    if (major > 1 || (major === 1 && minor >= 13)) skopeo = system;
  }
  const cosign = onPath('cosign') ? systemTool('cosign', ['version']) : undefined;
  const missing = [...(skopeo ? [] : ['skopeo']), ...(cosign ? [] : ['cosign'])];
  const fetched = missing.length ? fetchDebian13(dir, missing) : undefined;
  return { skopeo: skopeo ?? fetched!('skopeo', ['--version']), cosign: cosign ?? fetched!('cosign', ['version']) };
}
