/**
 * The registry of error codes (src/error-codes.ts) is the only word on codes: every error in src/
 * and cli/ is made with a code from it, written where it is thrown so that grep finds it, and what
 * the README and the runbooks say of a code agrees with it. (`keyward help errors` prints it:
 * test/cli/errors.test.ts.)
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ERROR_CODES, EXIT_CODES, exitCodeOf, type ErrorCode } from '../../src/error-codes.js';
import { PROJECT_ROOT } from '../harness/run.js';
import { sourceFiles, type SourceFile } from '../harness/source.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const isCode = (text: string): text is ErrorCode => Object.hasOwn(ERROR_CODES, text);
const CODE_SHAPE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** The classes whose constructors take a code first, and which keywardError() chooses from (src/errors.ts). */
const KIND_CLASSES = new Set(['KeywardError', 'UsageError', 'NotFoundError', 'AuthError', 'UnavailableError', 'VerificationError', 'ConflictError']);

test('the registry: every code once, in order, with an exit code and a one-line meaning', (t) => {
  for (const code of CODES) {
    t.regex(code, CODE_SHAPE);
    const { exit, meaning }: { exit: string; meaning: string } = ERROR_CODES[code];
    t.true(Object.hasOwn(EXIT_CODES, exit) && exit !== 'ok', `${code}: exit "${exit}"`);
    t.true(meaning.length > 0 && meaning.length <= 100 && !meaning.includes('\n') && meaning === meaning.trim(), `${code}: one line of meaning`);
  }
  // Dictionary order, "_" read as a space (CA_CONFIG_CORRUPT before CANCELLED): a new code has one place.
  const words = (code: string) => code.replaceAll('_', ' ');
  t.deepEqual(
    CODES,
    [...CODES].sort((a, b) => (words(a) < words(b) ? -1 : words(a) > words(b) ? 1 : 0)),
  );
});

/** Whether an expression builds a string at run time: a template with substitutions, a `+`, a call (`.toUpperCase()`). */
function builtAtRunTime(expression: ts.Node): boolean {
  if (ts.isTemplateExpression(expression) || ts.isCallExpression(expression)) return true;
  if (ts.isBinaryExpression(expression) && expression.operatorToken.kind === ts.SyntaxKind.PlusToken) return true;
  return ts.forEachChild(expression, (child) => builtAtRunTime(child) || undefined) ?? false;
}

/** The code argument of a node, if it makes an error: keywardError(code, …), or super(code, …) in a class that extends a kind class. */
function codeArgument(node: ts.Node): ts.Expression | undefined {
  if (!ts.isCallExpression(node)) return undefined;
  if (ts.isIdentifier(node.expression) && node.expression.text === 'keywardError') return node.arguments[0];
  if (node.expression.kind !== ts.SyntaxKind.SuperKeyword) return undefined;
  let scope: ts.Node | undefined = node.parent;
  while (scope && !ts.isClassLike(scope)) scope = scope.parent;
  const base = scope?.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression;
  return base && ts.isIdentifier(base) && KIND_CLASSES.has(base.text) ? node.arguments[0] : undefined;
}

function scan(files: readonly SourceFile[]): { problems: string[]; literals: Set<string> } {
  const problems: string[] = [];
  const literals = new Set<string>();
  for (const { path, ast } of files) {
    const at = (node: ts.Node) => `${path}:${ast.getLineAndCharacterOfPosition(node.getStart(ast)).line + 1}`;
    const visit = (node: ts.Node): void => {
      if (ts.isStringLiteralLike(node) && path !== 'src/error-codes.ts') literals.add(node.text);
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && KIND_CLASSES.has(node.expression.text) && path !== 'src/errors.ts') {
        problems.push(`${at(node)}: new ${node.expression.text}(…): make it with keywardError('CODE', …), which takes the class from the registry`);
      }
      const code = codeArgument(node);
      if (code && builtAtRunTime(code)) problems.push(`${at(node)}: the code ${code.getText(ast)} is built at run time: write each code as a literal`);
      ts.forEachChild(node, visit);
    };
    visit(ast);
  }
  return { problems, literals };
}

test('src/ and cli/ make every error with a code of the registry, each written as a literal', (t) => {
  const { problems, literals } = scan(sourceFiles());
  t.deepEqual(problems, []);
  // So that `grep -rn "'PIN_LOCKED'" src cli` finds where a code comes from; and a code nothing throws is not kept.
  t.deepEqual(
    CODES.filter((code) => !literals.has(code)),
    [],
    'codes written nowhere in src/ or cli/ but the registry',
  );
});

test('the scan sees what it must refuse', (t) => {
  const source = (text: string): SourceFile => ({ path: 'src/example.ts', ast: ts.createSourceFile('example.ts', text, ts.ScriptTarget.ES2022, true) });
  const { problems } = scan([
    source(`
      throw new UsageError('PIN_LENGTH', 'm');
      throw keywardError(\`\${what}_LENGTH\`, 'm');
      throw keywardError('PKCS11_' + ckr, 'm');
      throw keywardError(failure.toUpperCase(), 'm');
      class MineError extends AuthError { constructor(c) { super(\`\${c}_INCORRECT\`, 'm'); } }
      throw keywardError(what === 'PUK' ? 'PUK_LENGTH' : 'PIN_LENGTH', \`a \${what} has 6 to 8 characters\`);
      class TheirError extends KeywardError { constructor() { super(CODES[failure], \`\${role}: m\`); } }
    `),
  ]);
  t.deepEqual(
    problems.map((p) => p.replace(/^src\/example\.ts:(\d+): (\S+).*/, '$1 $2')),
    ['2 new', '3 the', '4 the', '5 the', '6 the'],
  );
});

/** README.md and the runbooks. */
function documents(): Array<{ path: string; text: string }> {
  const runbooks = readdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md'));
  return ['README.md', ...runbooks.map((f) => `docs/${f}`)].map((path) => ({ path, text: readFileSync(join(PROJECT_ROOT, path), 'utf8') }));
}

test('the README and the runbooks give every code they name the exit code the registry gives it', (t) => {
  let checked = 0;
  for (const { path, text } of documents()) {
    // Prose names codes in backquotes; "(exit code 2, `LINK_REFUSED`)", "(`CONFIRMATION_REQUIRED`, exit 2)".
    for (const [, code] of text.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) {
      if (isCode(code!)) checked++;
    }
    for (const [group] of text.matchAll(/\([^()]*\)/g)) {
      const codes = [...group.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!).filter((c) => isCode(c) || (c.includes('_') && !c.startsWith('KEYWARD_')));
      const exits = [...group.matchAll(/\bexit(?: code)? (\d+)/g)].map((m) => Number(m[1]));
      if (codes.length === 0 || exits.length !== 1) continue;
      for (const code of codes) {
        t.true(isCode(code), `${path}: ${group} names ${code}, which is not a code (src/error-codes.ts)`);
        if (isCode(code)) t.is(exitCodeOf(code) as number, exits[0]!, `${path}: ${group}`);
      }
    }
  }
  t.true(checked >= 5, 'the README names codes, and the test finds them');
});

test("the README's exit codes are the registry's, and it points to keyward help errors", (t) => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'), readme.indexOf('\n## ', readme.indexOf('### Exit codes')));
  const rows = [...section.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map(([, code, meaning]) => ({ code: Number(code), meaning: meaning!.replaceAll('`', '') }));
  t.deepEqual(
    rows,
    Object.values(EXIT_CODES).map(({ code, meaning }) => ({ code, meaning })),
  );
  t.regex(section, /keyward help errors/);
  t.regex(section, /src\/error-codes\.ts/);
});
