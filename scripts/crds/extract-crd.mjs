#!/usr/bin/env node
// Extracts the openAPIV3Schema of one served version of a CustomResourceDefinition from a pinned tag of an
// upstream git repository, in the shape of ../shared/k8s-schemas/crds/*.json: { apiVersion, kind, scope,
// source: { repo, ref, commit, path, crd }, openAPIV3Schema } with the `description` texts removed and every
// object's keys sorted, so that a rerun on the same tag writes the same bytes.
// Usage: node scripts/crds/extract-crd.mjs GIT_DIR TAG PATH_IN_REPO VERSION OUT.json
// GIT_DIR is a git directory (bare or .git) holding TAG; the YAML is read with `git --git-dir GIT_DIR show TAG:PATH`.
// The file may hold several YAML documents; the CustomResourceDefinition among them is used.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const [gitDir, tag, filePath, version, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/crds/extract-crd.mjs GIT_DIR TAG PATH_IN_REPO VERSION OUT.json');
  process.exit(2);
}

process.on('uncaughtException', (err) => {
  console.error(`extract-crd: ${err.message.trim()}`);
  process.exit(1);
});

const git = (...args) =>
  execFileSync('git', ['--git-dir', gitDir, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const text = git('show', `${tag}:${filePath}`);
const commit = git('rev-parse', `${tag}^{commit}`).trim();
const repo = repoName(gitDir);

const docs = parseAllDocuments(text).map((d) => {
  if (d.errors.length > 0) throw new Error(`${filePath}: ${d.errors[0].message}`);
  return d.toJS();
});
const crds = docs.filter((d) => d?.kind === 'CustomResourceDefinition');
if (crds.length !== 1)
  throw new Error(`${filePath} at ${tag}: expected one CustomResourceDefinition, found ${crds.length}`);
const crd = crds[0];
const served = (crd.spec.versions ?? []).filter((v) => v.served !== false);
const v = served.find((x) => x.name === version);
if (!v)
  throw new Error(
    `${crd.metadata.name} at ${tag} serves ${served.map((x) => x.name).join(', ') || 'no version'}, not ${version}`,
  );
const schema = v.schema?.openAPIV3Schema ?? crd.spec.validation?.openAPIV3Schema;
if (!schema) throw new Error(`${crd.metadata.name} ${version} has no openAPIV3Schema`);

const result = {
  apiVersion: `${crd.spec.group}/${version}`,
  kind: crd.spec.names.kind,
  scope: crd.spec.scope,
  source: { repo, ref: tag, commit, path: filePath, crd: crd.metadata.name },
  openAPIV3Schema: stripDescriptions(schema),
};
writeFileSync(out, `${JSON.stringify(sortKeys(result))}\n`);
console.log(`wrote ${out}: ${result.apiVersion} ${result.kind} from ${repo}@${tag} (${commit})`);

// Removes the `description` keyword of every schema node. A property that is itself named "description"
// (a key of a `properties` map) is a field, not a text, and stays.
function stripDescriptions(node, isPropertiesMap = false) {
  if (Array.isArray(node)) return node.map((x) => stripDescriptions(x));
  if (node === null || typeof node !== 'object') return node;
  const outNode = {};
  for (const [k, val] of Object.entries(node)) {
    if (k === 'description' && !isPropertiesMap) continue;
    outNode[k] = stripDescriptions(val, !isPropertiesMap && (k === 'properties' || k === 'patternProperties'));
  }
  return outNode;
}

function sortKeys(node) {
  if (Array.isArray(node)) return node.map(sortKeys);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.keys(node)
      .sort()
      .map((k) => [k, sortKeys(node[k])]),
  );
}

// owner/name of the repository: from the remote URL if there is one, else from a mirror directory named
// owner+name (as /work/.mirror/owner+name/repo), else the directory name.
function repoName(dir) {
  let url = '';
  try {
    url = git('config', '--get', 'remote.origin.url').trim();
  } catch {
    /* no remote */
  }
  const m = url.match(/github\.com[/:]([^/]+\/[^/]+?)(\.git)?\/?$/);
  if (m) return m[1];
  const parts = dir.replace(/\/+$/, '').split('/');
  const named = parts.find((p) => p.includes('+'));
  if (named) return named.replace('+', '/');
  return parts.filter((p) => p !== '.git' && p !== 'repo').pop();
}
