import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { peekArtifact } from '../artifact/manifest.js';
import type { LlmopsConfig } from '../config/schema.js';
import { checkFailed, LlmopsError, usageError } from '../errors.js';
import { buildDirAtomically, writeFiles } from '../fs/atomic.js';
import type { DryRunMode } from '../proc/kubectl.js';
import { applyManifests, type ApplyResult } from './apply.js';
import { buildManifests, type Emit } from './build.js';
import { readBenchResult, type CapacityPlan, type EndpointCapacity, type EngineLoad } from './capacity.js';
import { SECRET_ENV } from '../config/deploy.js';
import { gpuTypeFromName } from './facts.js';
import type { GraphSummary } from './graph.js';
import type { KubeObject } from '../k8s/objects.js';
import { lintObjects, type LintFinding } from './lint/index.js';
import { checkApiServerRules, describeFinding, dns1035LabelError } from '../k8s/names.js';
import { resolveDeploy, type Resolved } from './resolve.js';
import { toJsonList, toYaml, toYamlStream } from '../k8s/serialize.js';
import { fileNameOf, layoutFiles, type OutputFile } from './serialize.js';
import { loadBundledSchemas, StrictValidator, type SchemaSet } from '../k8s/validate/index.js';

/** Where `--out` puts files that are not Kubernetes objects (nap.yaml, prometheus-adapter-rules.yaml). */
export const EXTRAS_DIR = 'extras';

export interface DeployOptions {
  /** The loaded llmops.yaml (serve, deploy, name and model are used). */
  config: LlmopsConfig;
  /** Server image, over serve.image. */
  image?: string | undefined;
  /** Bench results: an endpoint result gives capacity, an engine result the model load time. */
  fromBench?: readonly string[] | undefined;
  /** Peak requests/s for the capacity plan, over deploy.capacity.peakQps. */
  peakQps?: number | undefined;
  /** Extra outputs: a GKE node auto-provisioning config, a compile Job. */
  emit?: readonly Emit[] | undefined;
  /** Write one file per object into this directory (atomically). */
  out?: string | undefined;
  /** With `out`: a kustomize layout (base + overlays per environment). */
  kustomize?: boolean | undefined;
  /** Replace an existing `out`. */
  force?: boolean | undefined;
  /** Apply with kubectl after writing. */
  apply?: boolean | undefined;
  dryRun?: DryRunMode | undefined;
  context?: string | undefined;
  /** Schemas for strict validation. @default the bundled subset shipped with llmops */
  schemas?: SchemaSet | undefined;
  /** Environment scanned for secret values that must not appear in the output. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((message: string) => void) | undefined;
}

export interface DeployResult {
  name: string;
  namespace: string;
  objects: KubeObject[];
  /** Files written under `out` (relative paths), or null when nothing was written. */
  files: string[] | null;
  out: string | null;
  /** The stream `-o yaml` prints. */
  yaml: string;
  json: string;
  capacityPlan: CapacityPlan | null;
  timing: Resolved['timing'];
  replicas: Resolved['replicas'];
  autoscaling: Resolved['autoscaling'];
  /** With deploy.graph: the runtime, and per node whether and how it autoscales (the single-server fields above do not apply). */
  graph: GraphSummary | null;
  storage: string;
  notes: string[];
  lint: LintFinding[];
  apply: ApplyResult | null;
}

/** Builds, validates, lints and writes (or applies) the Kubernetes manifests of a model service. */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { config } = options;
  const out = options.out ? path.resolve(options.out) : null;
  if (out && !options.force && (await exists(out))) {
    throw usageError(`output directory ${out} already exists`, 'OUTPUT_EXISTS', { hint: 'pass --force to replace it' });
  }
  if (options.emit?.includes('nap') && !out)
    throw usageError('--emit nap writes extras/nap.yaml beside the manifests: add --out DIR', 'DEPLOY_NAP_NEEDS_OUT');
  if (options.kustomize && !out)
    throw usageError('--kustomize writes a directory layout: add --out DIR', 'DEPLOY_KUSTOMIZE_NEEDS_OUT');
  if (options.dryRun && !options.apply)
    throw usageError('--dry-run applies nothing without --apply: add --apply', 'DEPLOY_DRY_RUN_NEEDS_APPLY');

  let capacity: EndpointCapacity | undefined;
  let load: EngineLoad | undefined;
  for (const file of options.fromBench ?? []) {
    const input = await readBenchResult(file);
    if (input.kind === 'endpoint') capacity = input.capacity;
    else load = input.load;
  }
  await checkArtifact(config);
  checkServiceName(config.name);

  const resolved = resolveDeploy({
    name: config.name,
    model: config.model,
    serve: config.serve,
    deploy: config.deploy,
    image: options.image,
    capacity,
    load,
    peakQps: options.peakQps,
  });
  const built = buildManifests(resolved, options.emit ?? []);

  options.onProgress?.(`validating ${built.objects.length} objects against the Kubernetes 1.30 and CRD schemas`);
  const validator = await validatorFor(options.schemas);
  const invalid = built.objects.flatMap((object) => validator.validate(object));
  if (invalid.length > 0) {
    const first = invalid[0]!;
    throw new LlmopsError(
      `generated ${first.object} fails schema validation at ${first.path || '/'}: ${first.message}`,
      'DEPLOY_INVALID_MANIFEST',
      {
        details: { errors: invalid },
      },
    );
  }

  // The schemas carry no name patterns: the API server's own rules, so `kubectl apply` does not refuse what we wrote.
  const refused = checkApiServerRules(built.objects);
  if (refused.length > 0) {
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more)` : '';
    throw usageError(
      `the API server would refuse ${describeFinding(refused[0]!, config.name)}${more}`,
      'DEPLOY_API_SERVER_RULES',
      {
        details: { findings: refused },
      },
    );
  }

  const lint = lintObjects(
    built.objects.map((object) => ({ object })),
    { ignore: config.deploy.lint.ignore },
  );
  if (lint.length > 0) {
    const first = lint[0]!;
    throw checkFailed(
      `lint: ${lint.length} finding(s) in the generated manifests; first: ${first.object}: ${first.message} [${first.rule}]`,
      'DEPLOY_LINT_FAILED',
      {
        hint: 'fix the config, or list the rule in deploy.lint.ignore',
        details: { findings: lint },
      },
    );
  }

  // Not Kubernetes objects: under extras/, which `kubectl apply -f DIR` (not recursive) and the kustomization skip.
  const extra: OutputFile[] = [];
  if (built.nap) extra.push({ path: `${EXTRAS_DIR}/nap.yaml`, content: toYaml(built.nap) });
  if (built.adapterRules)
    extra.push({ path: `${EXTRAS_DIR}/prometheus-adapter-rules.yaml`, content: toYaml(built.adapterRules) });
  const files = layoutFiles(built.objects, {
    kustomize: Boolean(options.kustomize),
    environments: config.deploy.environments,
    extra,
  });
  const yaml = toYamlStream(built.objects);
  const json = toJsonList(built.objects);
  assertNoSecrets([yaml, ...extra.map((f) => f.content)].join('\n'), config, options.env ?? process.env);

  if (out) {
    await buildDirAtomically(out, (temporary) => writeFiles(temporary, files), {
      existing: options.force ? 'replace' : 'refuse',
    });
    options.onProgress?.(`wrote ${files.length} files to ${out}`);
  }

  let apply: ApplyResult | null = null;
  if (options.apply) {
    const scratch = out ? null : path.join(tmpdir(), `llmops-deploy-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      if (scratch)
        await buildDirAtomically(scratch, (temporary) =>
          writeFiles(temporary, layoutFiles(built.objects, { kustomize: false, environments: [] })),
        );
      const dir = out ?? scratch!;
      const source = options.kustomize
        ? { kustomize: path.join(dir, 'base') }
        : { files: built.objects.map((object) => path.join(dir, fileNameOf(object))) };
      apply = await applyManifests({
        source,
        context: options.context,
        dryRun: options.dryRun,
        signal: options.signal,
        onProgress: options.onProgress,
      });
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }

  return {
    name: resolved.name,
    namespace: resolved.namespace,
    objects: built.objects,
    files: out ? files.map((f) => f.path) : null,
    out,
    yaml,
    json,
    capacityPlan: resolved.capacityPlan,
    timing: resolved.timing,
    replicas: resolved.replicas,
    autoscaling: resolved.autoscaling,
    graph: built.graph,
    storage: resolved.storage.strategy,
    notes: built.notes,
    lint,
    apply,
  };
}

/**
 * Defence in depth: the builders only ever reference Secrets, but if a secret value from the config or the
 * environment shows up in the output anyway, nothing is written.
 */
export function assertNoSecrets(text: string, config: LlmopsConfig, env: NodeJS.ProcessEnv): void {
  const candidates: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value && SECRET_ENV.test(name)) candidates.push([`$${name}`, value]);
  }
  if (config.hub.token) candidates.push(['hub.token', config.hub.token]);
  for (const [source, value] of candidates) {
    // Short values (e.g. "1", "true") would match by accident and are no secrets worth the name.
    if (value.length >= 8 && text.includes(value)) {
      throw new LlmopsError(
        `refusing to write manifests: they contain the secret value of ${source}`,
        'DEPLOY_SECRET_LEAK',
        {
          hint: 'reference the Secret in deploy.secrets instead of putting its value in llmops.yaml',
        },
      );
    }
  }
}

/**
 * `name` names the Service, which the API server wants as a DNS-1035 label (kubernetes/pkg/apis/core/validation,
 * ValidateServiceName at v1.30). Checked here, not in the config schema: bench and compile accept `7b-chat`.
 */
function checkServiceName(name: string): void {
  const error = dns1035LabelError(name);
  if (!error) return;
  const hint = /^[0-9]/.test(name)
    ? `e.g. \`m${name}\``
    : 'lowercase letters, digits and -, starting with a letter, at most 63';
  throw usageError(`\`name\` ${name} ${error}: it names the Kubernetes Service (${hint})`, 'DEPLOY_BAD_NAME');
}

/** A compiled artifact's manifest, when the model is one: TensorRT engines only run on the GPU they were built for. */
async function checkArtifact(config: LlmopsConfig): Promise<void> {
  const model = config.model;
  const dir = typeof model === 'string' ? (/^[./~]/.test(model) ? model : null) : (model?.path ?? null);
  if (!dir) return;
  // A directory without a readable manifest is a plain model: nothing to check.
  const manifest = await peekArtifact(dir).catch(() => null);
  const backend = manifest?.backend ?? '';
  // A hand-written manifest may name the GPU as a bare string.
  const gpu = manifest?.hardware?.gpu as { name?: string } | string | null | undefined;
  const gpuName = typeof gpu === 'string' ? gpu : gpu?.name;
  if (!/^tensorrt/.test(backend) || !gpuName) return;
  const builtFor = gpuTypeFromName(gpuName);
  if (builtFor && builtFor !== config.deploy.gpu.type) {
    throw usageError(
      `the ${backend} engine in ${dir} was built on ${gpuName} (${builtFor}) but deploy.gpu.type is ${config.deploy.gpu.type}: TensorRT engines only run on the GPU architecture they were built for`,
      'DEPLOY_GPU_MISMATCH',
      { hint: `set deploy.gpu.type: ${builtFor}, or compile on the target GPU (--emit compile-job)` },
    );
  }
}

/** Compiling the schemas costs ~100 ms: one validator per schema set, and one for the bundled set, per process. */
const validators = new WeakMap<SchemaSet, Promise<StrictValidator>>();
let bundled: Promise<StrictValidator> | undefined;
function validatorFor(schemas: SchemaSet | undefined): Promise<StrictValidator> {
  if (!schemas) return (bundled ??= loadBundledSchemas().then((set) => StrictValidator.create(set)));
  let validator = validators.get(schemas);
  if (!validator) validators.set(schemas, (validator = StrictValidator.create(schemas)));
  return validator;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
