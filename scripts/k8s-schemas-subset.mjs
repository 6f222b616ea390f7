#!/usr/bin/env node
// Regenerates schemas/k8s-subset.json (the schemas `llmops deploy` validates against at run time) from the full
// official schemas in ../shared/k8s-schemas (or the directory given) plus the CRDs kept in schemas/crds/ (for kinds the
// shared directory lacks), keeping only the kinds llmops emits.
// Usage: npx tsc -p . && node scripts/k8s-schemas-subset.mjs [SCHEMA_DIR]
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadSchemaDir, loadCrdDir, withCrds, REPO_CRDS, subsetSchemas, EMITTED_KINDS } = await import(
  path.join(root, 'dist/src/deploy/index.js')
).then(async (m) => ({
  ...m,
  subsetSchemas: (await import(path.join(root, 'dist/src/k8s/validate/schemas.js'))).subsetSchemas,
}));
const dir = path.resolve(process.argv[2] ?? path.join(root, '../shared/k8s-schemas'));
const full = withCrds(await loadSchemaDir(dir), await loadCrdDir(REPO_CRDS));
const subset = subsetSchemas(full, [...EMITTED_KINDS]);
const missing = EMITTED_KINDS.filter(
  (kind) => !subset.gvk[kind] && !subset.crds.some((c) => `${c.apiVersion} ${c.kind}` === kind),
);
if (missing.length > 0) throw new Error(`schemas for ${missing.join(', ')} not found in ${dir}`);
const target = path.join(root, 'schemas/k8s-subset.json');
await writeFile(target, `${JSON.stringify(subset)}\n`);
console.log(`wrote ${target}: ${Object.keys(subset.definitions).length} definitions, ${subset.crds.length} CRDs`);
