import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The import rules of ARCHITECTURE.md, read from the TypeScript sources (not dist/): folders of src/ import only
 * folders in lower layers, never a sibling in their own layer, and no module imports itself back through others.
 */

const SRC = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'src');

/** Bottom first. A unit is a folder of src/ or a top-level file of src/ (without `.ts`). */
const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['fs'],
  // The artifact manifest and its vocabulary (backends, precisions, devices): what config, proc and every capability
  // name when they speak of a compiled model.
  ['artifact'],
  // Kubernetes objects, external tools, the ONNX engine and the upstream server catalog: leaves that know no config.
  ['k8s', 'proc', 'engine', 'servers'],
  ['config'],
  ['model', 'hub'],
  // The four capabilities: each reaches the others only through what lies below (the artifact, the config, k8s).
  ['compile', 'bench', 'scaffold', 'deploy'],
  ['ui'],
  ['commands'],
  ['cli', 'index'],
];

/**
 * Imports that break a rule today, each with why it is still there. Keys are `from -> to` source paths relative to
 * src/. Remove an entry once its import is gone: the test fails on a stale entry so the list stays the list of what
 * is left.
 */
const ALLOWED: ReadonlyMap<string, string> = new Map<string, string>([]);

interface Edge {
  from: string;
  /** src/-relative path, or a package name (`commander`) for a bare specifier. */
  to: string;
  /** `import type` / `export type`, or every named binding marked `type`: gone at run time. */
  typeOnly: boolean;
  /** A bare specifier: a package, not a module of src/. */
  isPackage: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Whether an import or export declaration brings in types only. */
function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node))
    return (
      node.isTypeOnly ||
      (node.exportClause !== undefined &&
        ts.isNamedExports(node.exportClause) &&
        node.exportClause.elements.length > 0 &&
        node.exportClause.elements.every((e) => e.isTypeOnly))
    );
  const clause = node.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    clause.name === undefined &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((e) => e.isTypeOnly)
  );
}

/** Every relative import of every module under src/ (static, type-only, re-exports and `import()`), as src/-relative paths. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const add = (specifier: string, typeOnly: boolean): void => {
      if (!specifier.startsWith('.')) {
        if (!specifier.startsWith('node:')) edges.push({ from: rel(file), to: specifier, typeOnly, isPackage: true });
        return;
      }
      const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
      edges.push({ from: rel(file), to: rel(target), typeOnly, isPackage: false });
    };
    const walk = (node: ts.Node): void => {
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        add(node.moduleSpecifier.text, isTypeOnly(node));
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        add(node.arguments[0].text, false);
      } else if (
        ts.isImportTypeNode(node) &&
        ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        add(node.argument.literal.text, true);
      }
      ts.forEachChild(node, walk);
    };
    walk(source);
  }
  return edges;
}

function rel(file: string): string {
  return path.relative(SRC, file).split(path.sep).join('/');
}

/** Packages only some folders may import: the CLI framework stays out of the library, tools go through proc/. */
const PACKAGE_OWNERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['commander', ['commands', 'cli']],
  ['execa', ['proc']],
]);

/** `deploy/lint/rules.ts` → `deploy`; `errors.ts` → `errors`; a path outside src/ → null. */
function unitOf(file: string): string | null {
  if (file.startsWith('../')) return null;
  const [first, ...rest] = file.split('/');
  return rest.length === 0 ? first!.replace(/\.ts$/, '') : first!;
}

const layerOf = new Map(LAYERS.flatMap((units, index) => units.map((unit) => [unit, index] as const)));
const allEdges = importEdges();
const edges = allEdges.filter((e) => !e.isPackage);

function key(edge: Edge): string {
  return `${edge.from} -> ${edge.to}`;
}

describe('architecture: import rules', () => {
  it('every folder and top-level module of src/ has a layer', () => {
    const units = new Set(sourceFiles(SRC).map((file) => unitOf(rel(file))!));
    assert.deepEqual(
      [...units].filter((unit) => !layerOf.has(unit)).sort(),
      [],
      'add new folders to LAYERS in test/architecture.test.ts and ARCHITECTURE.md',
    );
  });

  it('src/engine imports nothing outside itself but src/errors.ts (the node scaffold copies exactly these)', () => {
    const outside = edges.filter(
      (e) =>
        e.from.startsWith('engine/') && !e.to.startsWith('engine/') && e.to !== 'errors.ts' && !ALLOWED.has(key(e)),
    );
    assert.deepEqual(outside.map(key), []);
  });

  it('folders import only lower layers: never upward, never a sibling in their own layer', () => {
    const wrong = edges.filter((e) => {
      const from = unitOf(e.from);
      const to = unitOf(e.to);
      if (from === null || to === null) return to === null; // nothing reaches outside src/
      if (from === to) return false;
      return layerOf.get(to)! >= layerOf.get(from)!;
    });
    const unexplained = wrong.filter((e) => !ALLOWED.has(key(e)));
    assert.deepEqual(
      unexplained.map(
        (e) =>
          `${key(e)} (${unitOf(e.from)} is layer ${layerOf.get(unitOf(e.from)!)}, ${unitOf(e.to)} is layer ${layerOf.get(unitOf(e.to)!)})`,
      ),
      [],
    );
  });

  // Type-only imports are left out here (a command's run.ts may name the options type of its command.ts, which
  // lazy-loads it): what must not loop is the modules that load each other at run time. Layers above count types too.
  it('no module loads itself back through others (no run-time import cycles)', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges)
      if (!e.typeOnly && !ALLOWED.has(key(e))) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (node: string): void => {
      state.set(node, 'open');
      stack.push(node);
      for (const next of graph.get(node) ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(node, 'done');
    };
    for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
    assert.deepEqual(cycles, []);
  });

  it('commander is imported only by the CLI layer (commands/, cli.ts) and execa only by proc/', () => {
    const wrong = allEdges.filter((e) => {
      if (!e.isPackage) return false;
      const owners = PACKAGE_OWNERS.get(e.to.split('/')[0]!);
      return owners !== undefined && !owners.includes(unitOf(e.from)!) && !ALLOWED.has(key(e));
    });
    assert.deepEqual(wrong.map(key), []);
  });

  it('every allow-listed exception still exists (a fixed one leaves the list)', () => {
    const present = new Set(allEdges.map(key));
    assert.deepEqual(
      [...ALLOWED.keys()].filter((allowed) => !present.has(allowed)),
      [],
    );
  });
});

/** Modules that are processes of their own (spawned by llmops, not imported by the CLI): they end themselves. */
const OWN_PROCESSES: ReadonlyMap<string, string> = new Map([
  ['bench/endpoint/loopback-server.ts', 'the self-test runs it as a child process and stops it with SIGTERM'],
]);

/**
 * String-literal lists: `declared` are arrays that name option values (`as const`, `z.enum([...])`,
 * `.choices([...])`), `unions` are union types of string literals (which may restate a declared list by hand).
 */
function literalLists(): { declared: ListSite[]; unions: ListSite[] } {
  const declared: ListSite[] = [];
  const unions: ListSite[] = [];
  for (const file of sourceFiles(SRC)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const site = (node: ts.Node, values: string[]): ListSite => ({
      where: `${rel(file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`,
      values: [...values].sort().join('|'),
    });
    const walk = (node: ts.Node): void => {
      if (ts.isArrayLiteralExpression(node) && node.elements.every((e) => ts.isStringLiteral(e))) {
        const parent = node.parent;
        const names =
          (ts.isAsExpression(parent) && parent.type.getText(source) === 'const') ||
          (ts.isCallExpression(parent) &&
            ts.isPropertyAccessExpression(parent.expression) &&
            ['enum', 'choices'].includes(parent.expression.name.text));
        if (names && node.elements.length >= 2)
          declared.push(
            site(
              node,
              node.elements.map((e) => (e as ts.StringLiteral).text),
            ),
          );
      } else if (ts.isUnionTypeNode(node)) {
        const literals = node.types.flatMap((t) =>
          ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? [t.literal.text] : [],
        );
        if (literals.length >= 2) unions.push(site(node, literals));
      }
      ts.forEachChild(node, walk);
    };
    walk(source);
  }
  return { declared, unions };
}

interface ListSite {
  where: string;
  /** The values, sorted and joined with `|`. */
  values: string;
}

describe('architecture: one place for each fact', () => {
  it('only cli.ts sets exit codes: actions return or throw (VerdictError after a printed result)', () => {
    const wrong: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = rel(file);
      if (from === 'cli.ts') continue;
      const text = readFileSync(file, 'utf8');
      if (/process\.exitCode/.test(text)) wrong.push(`${from}: process.exitCode`);
      if (/process\.exit\(/.test(text) && !OWN_PROCESSES.has(from)) wrong.push(`${from}: process.exit()`);
    }
    assert.deepEqual(wrong, []);
  });

  it('each list of option values (providers, backends, precisions, templates…) is written once', () => {
    const { declared, unions } = literalLists();
    const places = new Map<string, string[]>();
    for (const list of declared) places.set(list.values, [...(places.get(list.values) ?? []), list.where]);
    // A union type restating a declared list is a second copy: derive it, `(typeof LIST)[number]`.
    for (const list of unions)
      if (places.has(list.values)) places.set(list.values, [...places.get(list.values)!, list.where]);
    const repeated = [...places]
      .filter(([, where]) => where.length > 1)
      .map(([values, where]) => `${values}: ${where.join(', ')}`);
    assert.deepEqual(repeated, [], 'declare the list once as an `as const` array and derive the rest from it');
  });
});
