#!/usr/bin/env node
// Regenerates schemas/crds/serving.kserve.io_*.json (the KServe CRDs `llmops deploy --graph runtime kserve` emits
// objects of) from a checkout of kserve/kserve at a pinned release, in the shape of ../shared/k8s-schemas/crds/:
// one served version's openAPIV3Schema with the `description` texts removed, keys sorted, and its `source` recorded.
// Usage: node scripts/kserve-crds.mjs KSERVE_GIT_DIR [REF]   (a clone or a bare mirror; REF defaults to the pinned tag)
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const PINNED = 'v0.20.0';
const CRDS = [
  { file: 'config/crd/full/serving.kserve.io_inferenceservices.yaml', version: 'v1beta1' },
  { file: 'config/crd/full/serving.kserve.io_inferencegraphs.yaml', version: 'v1alpha1' },
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gitDir = process.argv[2];
if (!gitDir) throw new Error('usage: node scripts/kserve-crds.mjs KSERVE_GIT_DIR [REF]');
const ref = process.argv[3] ?? PINNED;
const git = (...args) => execFileSync('git', ['-C', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const commit = git('rev-parse', `${ref}^{commit}`).trim();

/** Drops description texts (strings only: a property named `description` is an object and stays). */
function strip(value) {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value)
    .filter((key) => !(key === 'description' && typeof value[key] === 'string'))
    .sort();
  return Object.fromEntries(keys.map((key) => [key, strip(value[key])]));
}

for (const { file, version } of CRDS) {
  const crd = parse(git('show', `${commit}:${file}`));
  const served = crd.spec.versions.find((v) => v.name === version);
  if (!served) throw new Error(`${file} at ${ref} has no version ${version}`);
  const kind = crd.spec.names.kind;
  const out = strip({
    apiVersion: `${crd.spec.group}/${version}`,
    kind,
    scope: crd.spec.scope,
    source: { commit, crd: crd.metadata.name, path: file, ref, repo: 'kserve/kserve' },
    openAPIV3Schema: served.schema.openAPIV3Schema,
  });
  const target = path.join(root, 'schemas/crds', `${crd.spec.group}_${kind.toLowerCase()}_${version}.json`);
  await writeFile(target, JSON.stringify(out));
  console.log(`wrote ${path.relative(root, target)} (${kind} ${version} from ${ref} ${commit.slice(0, 12)})`);
}
