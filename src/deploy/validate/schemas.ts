import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Kubernetes and CRD schemas in the layout of `shared/k8s-schemas/`: the OpenAPI v2 `definitions` of Kubernetes with
 * a `gvk` index (`"apps/v1 Deployment"` → definition name), and CRDs with one `openAPIV3Schema` each.
 */
export interface SchemaSet {
  definitions: Record<string, unknown>;
  gvk: Record<string, string>;
  crds: { apiVersion: string; kind: string; openAPIV3Schema: unknown }[];
}

/**
 * CRDs of the add-ons llmops emits objects for that `shared/k8s-schemas` does not carry (the KEDA HTTP add-on), in the
 * same layout, extracted from each project's pinned release by `scripts/crds/extract-crd.mjs`.
 */
export const REPOSITORY_CRDS = fileURLToPath(new URL('../../../../schemas/crds', import.meta.url));

/** Reads a schema directory (`kubernetes-v*.json` and `crds/*.json`), plus the CRDs of `extraCrdDirs`. */
export async function loadSchemaDir(dir: string, extraCrdDirs: readonly string[] = [REPOSITORY_CRDS]): Promise<SchemaSet> {
  const entries = await readdir(dir);
  const main = entries.filter((name) => /^kubernetes-v[\d.]+\.json$/.test(name)).sort()[0];
  if (!main) throw new Error(`no kubernetes-v*.json in ${dir}`);
  const k8s = JSON.parse(await readFile(path.join(dir, main), 'utf8')) as { definitions: Record<string, unknown>; gvk: Record<string, string> };
  const crds: SchemaSet['crds'] = [];
  for (const crdDir of [path.join(dir, 'crds'), ...extraCrdDirs]) {
    for (const crd of await readCrdDir(crdDir)) {
      if (!crds.some((known) => known.apiVersion === crd.apiVersion && known.kind === crd.kind)) crds.push(crd);
    }
  }
  return { definitions: k8s.definitions, gvk: k8s.gvk, crds };
}

async function readCrdDir(crdDir: string): Promise<SchemaSet['crds']> {
  let names: string[] = [];
  try {
    names = (await readdir(crdDir)).filter((name) => name.endsWith('.json')).sort();
  } catch {
    // a set without CRDs validates built-in kinds only
  }
  return Promise.all(
    names.map(async (name) => {
      const crd = JSON.parse(await readFile(path.join(crdDir, name), 'utf8')) as SchemaSet['crds'][number];
      return { apiVersion: crd.apiVersion, kind: crd.kind, openAPIV3Schema: crd.openAPIV3Schema };
    }),
  );
}

/** The subset of the schemas for the kinds llmops emits, shipped with the package (`schemas/k8s-subset.json`). */
export const BUNDLED_SCHEMAS = fileURLToPath(new URL('../../../../schemas/k8s-subset.json', import.meta.url));

export async function loadBundledSchemas(): Promise<SchemaSet> {
  return JSON.parse(await readFile(BUNDLED_SCHEMAS, 'utf8')) as SchemaSet;
}

/** Keeps only the kinds given and the definitions they reach, so the bundled file stays small. */
export function subsetSchemas(set: SchemaSet, kinds: string[]): SchemaSet {
  const gvk: Record<string, string> = {};
  const definitions: Record<string, unknown> = {};
  const visit = (name: string) => {
    if (definitions[name] !== undefined) return;
    const definition = set.definitions[name];
    if (definition === undefined) throw new Error(`no definition ${name}`);
    definitions[name] = definition;
    for (const ref of JSON.stringify(definition).matchAll(/"#\/definitions\/([^"]+)"/g)) visit(ref[1]!);
  };
  for (const key of kinds) {
    const name = set.gvk[key];
    if (name) {
      gvk[key] = name;
      visit(name);
    }
  }
  visit('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
  const crds = set.crds.filter((crd) => kinds.includes(`${crd.apiVersion} ${crd.kind}`));
  const sorted = Object.fromEntries(Object.keys(definitions).sort().map((key) => [key, definitions[key]]));
  return { definitions: sorted, gvk, crds };
}
