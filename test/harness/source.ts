/**
 * The project's own TypeScript, read as source: the files of src/ and cli/, parsed (not type-checked)
 * with the TypeScript compiler, and the graph of their static imports. Tests of the house rules (no
 * import cycles, every error code registered) are built on it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from './run.js';

/** The directories whose files make up Keyward (what tsconfig.json compiles). */
export const SOURCE_DIRS = ['src', 'cli'];

export interface SourceFile {
  /** Relative to the project root, with forward slashes: `src/errors.ts`. */
  path: string;
  ast: ts.SourceFile;
}

/** Every .ts file of `dirs`, parsed, in path order. */
export function sourceFiles(dirs: readonly string[] = SOURCE_DIRS): SourceFile[] {
  const paths: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(PROJECT_ROOT, dir)).sort()) {
      const path = `${dir}/${name}`;
      if (statSync(join(PROJECT_ROOT, path)).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) paths.push(path);
    }
  };
  dirs.forEach(walk);
  return paths.map((path) => ({ path, ast: ts.createSourceFile(path, readFileSync(join(PROJECT_ROOT, path), 'utf8'), ts.ScriptTarget.ES2022, true) }));
}

/**
 * Each file's static imports of other project files: `import`, `import type` and `export … from`
 * (a cycle of types is still two modules that cannot be understood one without the other), not
 * `await import(…)`, which is how the CLI defers loading on purpose and creates no cycle at load time.
 */
export function importGraph(files: readonly SourceFile[]): Map<string, string[]> {
  const known = new Set(files.map((f) => f.path));
  const graph = new Map<string, string[]>();
  for (const { path, ast } of files) {
    const targets = new Set<string>();
    for (const statement of ast.statements) {
      if (!(ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement))) continue;
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
      const target = relative(PROJECT_ROOT, resolve(PROJECT_ROOT, dirname(path), specifier.text.replace(/\.js$/, '.ts')))
        .split('\\')
        .join('/');
      if (known.has(target)) targets.add(target);
    }
    graph.set(path, [...targets].sort());
  }
  return graph;
}

/**
 * The import cycles of a graph: one per group of files that import each other (a strongly connected
 * component, Tarjan's algorithm), each shown as a path from its first file back to itself.
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) components.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) connect(file);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!)).map((component) => cyclePath(graph, new Set(component), component[0]!));
}

/** A shortest path of imports from `start` back to `start`, within one component (breadth first). */
function cyclePath(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>, start: string): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at: string | undefined = file; at !== undefined && at !== start; at = cameFrom.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return [start, start];
}
