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

/** Reads a schema directory: `kubernetes-v*.json` and `crds/*.json`. */
export async function loadSchemaDir(dir: string): Promise<SchemaSet> {
  const entries = await readdir(dir);
  const main = entries.filter((name) => /^kubernetes-v[\d.]+\.json$/.test(name)).sort()[0];
  if (!main) throw new Error(`no kubernetes-v*.json in ${dir}`);
  const k8s = JSON.parse(await readFile(path.join(dir, main), 'utf8')) as { definitions: Record<string, unknown>; gvk: Record<string, string> };
  const crdDir = path.join(dir, 'crds');
  let crdFiles: string[] = [];
  try {
    crdFiles = (await readdir(crdDir)).filter((name) => name.endsWith('.json')).sort();
  } catch {
    // a set without CRDs validates built-in kinds only
  }
  const crds = await Promise.all(
    crdFiles.map(async (name) => {
      const crd = JSON.parse(await readFile(path.join(crdDir, name), 'utf8')) as SchemaSet['crds'][number];
      return { apiVersion: crd.apiVersion, kind: crd.kind, openAPIV3Schema: crd.openAPIV3Schema };
    }),
  );
  return { definitions: k8s.definitions, gvk: k8s.gvk, crds };
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
