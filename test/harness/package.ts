/**
 * The package as a user gets it: `npm pack` of this checkout, and scratch projects that
 * `npm install` the tarball, offline. A scratch project's node_modules links keyward's dependencies
 * (and whatever else a test names, such as typescript and @types/node) to this checkout's
 * node_modules, so that npm installs the tarball itself and resolves nothing from the registry.
 *
 * npm runs with --ignore-scripts: the native add-ons are this checkout's, built already, and npm
 * would otherwise rebuild every linked add-on in place, inside this checkout's node_modules, under
 * the feet of other tests. npm's own environment from `npm test` (npm_config_*, npm_package_*) is
 * not passed on, so the inner npm works on the scratch project alone.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT, run, type RunResult } from './run.js';
import { tempDir, type Teardown } from './temp.js';

const NPM = 'npm';

/** This process's environment without what `npm test` adds for its scripts. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return { ...env, ...extra };
}

export interface PackedFile {
  path: string;
  size: number;
}

/** What `npm pack --dry-run --json` says would be published (npm test builds dist first). */
export async function packList(): Promise<{ files: PackedFile[]; size: number; unpackedSize: number }> {
  const result = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], PROJECT_ROOT);
  const [report] = JSON.parse(result.stdout) as Array<{ files: PackedFile[]; size: number; unpackedSize: number }>;
  return report!;
}

/** `npm pack` into a temporary directory, removed at `t`'s teardown; the tarball's path. */
export async function packTarball(t: Teardown): Promise<string> {
  const dir = tempDir(t, 'keyward-pack-');
  const result = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], PROJECT_ROOT);
  const [report] = JSON.parse(result.stdout) as Array<{ filename: string }>;
  return join(dir, report!.filename);
}

export interface ScratchOptions {
  /** Packages to link from this checkout's node_modules besides keyward's dependencies. */
  link?: string[];
  /** Install without keyward's optional dependencies (`--omit=optional`), as where they failed to build. */
  omitOptional?: boolean;
}

/**
 * A new project (`"type": "module"`, as an ESM-only package needs) that has installed `tarball`
 * with npm; removed at `t`'s teardown. Returns its directory.
 */
export async function scratchProject(t: Teardown, tarball: string, options: ScratchOptions = {}): Promise<string> {
  const dir = tempDir(t, 'keyward-scratch-');
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const link = (name: string) => {
    const path = join(dir, 'node_modules', name);
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(join(PROJECT_ROOT, 'node_modules', name), path, 'dir');
  };
  const optional = options.omitOptional ? [] : Object.keys(manifest.optionalDependencies ?? {});
  for (const name of [...Object.keys(manifest.dependencies ?? {}), ...optional]) link(name);
  await npm(['install', tarball, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...(options.omitOptional ? ['--omit=optional'] : [])], dir);
  // After the install: npm prunes what package.json does not ask for.
  for (const name of options.link ?? []) link(name);
  return dir;
}

/** Runs npm in `cwd` with a clean environment; a failure is thrown with its output. */
export async function npm(args: string[], cwd: string): Promise<RunResult> {
  const result = await run(NPM, args, { cwd, env: cleanEnv() });
  if (result.code !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.code}) in ${cwd}:\n${result.stderr}${result.stdout}`);
  return result;
}

/** The TypeScript compiler of this checkout (the one a reader would install: typescript 5.9). */
export const TSC = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The ```ts blocks of a README section, from its heading to the next heading of any level, in order. */
export function readmeBlocks(heading: string, readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')): string[] {
  const blocks: string[] = [];
  let inSection = false;
  let fence: { lang: string; lines: string[] } | undefined;
  for (const line of readme.split('\n')) {
    if (fence) {
      if (line.startsWith('```')) {
        if (inSection && fence.lang === 'ts') blocks.push(fence.lines.join('\n'));
        fence = undefined;
      } else fence.lines.push(line);
    } else if (line.startsWith('```')) fence = { lang: line.slice(3).trim(), lines: [] };
    else if (/^#{1,6} /.test(line)) {
      // Headings count outside code blocks only (a shell comment is not one).
      if (inSection) break;
      inSection = line.trim() === heading;
    }
  }
  if (!blocks.length) throw new Error(`README.md has no \`\`\`ts block under "${heading}"`);
  return blocks;
}
