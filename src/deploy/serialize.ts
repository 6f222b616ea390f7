import type { FileToWrite } from '../fs/atomic.js';
import type { KubeObject } from '../k8s/objects.js';
import { toYaml } from '../k8s/serialize.js';

/** `deployment-tiny-gpt.yaml`: one file per object, stable and unique within a namespace. */
export function fileNameOf(object: KubeObject): string {
  return `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

export type OutputFile = FileToWrite;

/**
 * The files of `--out`: one per object; with kustomize, those go under `base/` with a kustomization, and each
 * environment gets `overlays/<env>/kustomization.yaml` on top of the base (the place for its patches).
 */
export function layoutFiles(
  objects: readonly KubeObject[],
  options: { kustomize: boolean; environments: readonly string[]; extra?: OutputFile[] },
): OutputFile[] {
  const files = objects.map((object) => ({ path: fileNameOf(object), content: toYaml(object) }));
  const extra = options.extra ?? [];
  if (!options.kustomize) return [...files, ...extra].sort((a, b) => a.path.localeCompare(b.path));
  const base = files.map((file) => ({ ...file, path: `base/${file.path}` }));
  base.push({
    path: 'base/kustomization.yaml',
    content: toYaml({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: files.map((f) => f.path),
    }),
  });
  const overlays = options.environments.map((env) => ({
    path: `overlays/${env}/kustomization.yaml`,
    content: toYaml({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: ['../../base'],
      // Not a selector label: selectors are immutable, and the same Deployment must stay adoptable across environments.
      labels: [{ includeSelectors: false, includeTemplates: true, pairs: { 'llmops.dev/environment': env } }],
    }),
  }));
  return [...base, ...overlays, ...extra].sort((a, b) => a.path.localeCompare(b.path));
}
