import type { BackendName } from '../artifact/compile-choices.js';
import { usageError } from '../errors.js';
import { checkPinned } from '../k8s/image.js';
import { checkServerArgv } from '../servers/argv.js';
import { isUpstreamServer, SERVERS, serverArgv, type ModelSource } from '../servers/catalog.js';
import {
  COMPILED_BACKENDS,
  hubModelId,
  pinnedRevision,
  storageStrategyOf,
  type DeployConfig,
  type ModelRef,
  type ServeConfig,
  type StorageStrategy,
} from '../config/deploy.js';
import { planCapacity, type CapacityPlan, type EndpointCapacity, type EngineLoad } from './capacity.js';
import { gpuNodeSelector, SERVER_FACTS } from './facts.js';
import type { Labels } from '../k8s/objects.js';
import { DEFAULT_MODEL_SIZE } from './storage.js';

export interface ResolveInput {
  name: string;
  model: ModelRef;
  serve: ServeConfig;
  deploy: DeployConfig;
  /** `--image`, over serve.image. */
  image?: string | undefined;
  /** Endpoint bench capacity (`--from-bench`). */
  capacity?: EndpointCapacity | undefined;
  /** Engine bench load time (`--from-bench`). */
  load?: EngineLoad | undefined;
  /** `--peak-qps`, over deploy.capacity.peakQps. */
  peakQps?: number | undefined;
}

/** Everything the builders need, decided once: names, labels, timing, autoscaling numbers. */
export interface Resolved {
  name: string;
  namespace: string;
  image: string;
  serve: ServeConfig;
  deploy: DeployConfig;
  labels: Labels;
  selector: Labels;
  paths: { health: string; ready: string; metrics: string };
  metricsPort: number | null;
  storage: {
    strategy: StorageStrategy;
    /** Pinned image with python3 and huggingface_hub that downloads onto the shared volume (init, a new volume's populate Job); null when nothing does. */
    downloaderImage: string | null;
    /** Room for the model the server downloads into its cache volume (hub). */
    hubDownloadSize: string;
  };
  model: {
    id: string | null;
    revision: string | null;
    /** Where the model files are inside the pod; null when the server downloads from the Hub (strategy hub). */
    dir: string | null;
    /** What the server is pointed at: the compiled engine when there is one, else the model. */
    source: ModelSource;
  };
  /** The engine the compile Job writes and the server runs, when deploy.compileJob is set. */
  engine: { backend: BackendName; dir: string; modelDir: string } | null;
  /** The server container's command (null: the image's entrypoint) and args (null: the image's default). */
  container: { command: string[] | null; args: string[] | null };
  gpuSelector: Labels;
  timing: {
    modelLoadSeconds: number;
    modelLoadSource: string;
    /** What set the start budget: the load (configured or measured) × 2, or the server's cold-start floor. */
    startupBudgetSource: string;
    startupPeriodSeconds: number;
    startupFailureThreshold: number;
    /** periodSeconds × failureThreshold: how long a pod may take to become ready. */
    startupBudgetSeconds: number;
    preStopSeconds: number;
    terminationGracePeriodSeconds: number;
    scaleDownStabilizationSeconds: number;
    progressDeadlineSeconds: number;
  };
  replicas: { min: number; max: number };
  rollout: { maxSurge: number; maxUnavailable: number };
  autoscaling: {
    engine: DeployConfig['autoscaling']['engine'];
    metric: DeployConfig['autoscaling']['metric'];
    target: number;
    query: string;
    /** AverageValue divides the query by the replica count (sums); Value compares it as is (averages). */
    metricType: 'AverageValue' | 'Value';
    /** Per service, so two services' prometheus-adapter rules never collide. */
    externalMetricName: string;
    /** A series the query reads: prometheus-adapter discovers the rule through it. */
    seriesName: string;
  };
  /** What wakes the service at zero replicas (null: it never scales to zero). */
  wake:
    | { kind: 'http-add-on'; hosts: string[]; pathPrefixes?: string[] | undefined; concurrency: number }
    | { kind: 'query'; query: string; requestsPerReplica: number }
    | null;
  capacityPlan: CapacityPlan | null;
  notes: string[];
}

export const DEFAULT_TARGETS = { 'queue-depth': 4, 'gpu-utilization': 70, 'kv-cache': 80 } as const;
/** A pod may take twice the load (cold node cache, busy disk); a server's cold-start floor bounds it from below. */
const STARTUP_SAFETY_FACTOR = 2;
const STARTUP_PERIOD_SECONDS = 10;
/** The chapter's floor for scale-down stabilization of GPU services. */
const MIN_SCALE_DOWN_WINDOW_SECONDS = 600;

export function resolveDeploy(input: ResolveInput): Resolved {
  const { serve, deploy, name } = input;
  const notes: string[] = [];
  // A graph runs each node's own image (checked where the graph is built): no server image is needed or used.
  const image = deploy.graph ? '' : (input.image ?? serve.image ?? '');
  if (deploy.graph && (input.image ?? serve.image)) {
    notes.push(`${input.image ? '--image' : 'serve.image'} is not used: each node of deploy.graph runs its own image`);
  }
  if (!deploy.graph) {
    if (!image) {
      throw usageError('no server image: set `serve.image` in llmops.yaml or pass --image', 'DEPLOY_NO_IMAGE', {
        hint: 'e.g. --image ghcr.io/acme/tiny-gpt-server:1.4.2 (a pinned tag or a digest)',
      });
    }
    checkPinned(image, input.image ? '--image' : 'serve.image');
  }

  const facts = SERVER_FACTS[serve.template];
  const paths = {
    health: serve.paths.health ?? facts.health,
    ready: serve.paths.ready ?? facts.ready,
    metrics: serve.paths.metrics ?? facts.metrics,
  };
  const version = imageVersion(image);
  const selector = { 'app.kubernetes.io/instance': name, 'app.kubernetes.io/name': name };
  const labels: Labels = {
    ...selector,
    'app.kubernetes.io/component': 'inference-server',
    'app.kubernetes.io/managed-by': 'llmops',
    'app.kubernetes.io/part-of': name,
    ...(version ? { 'app.kubernetes.io/version': version } : {}),
  };

  const strategy = storageStrategyOf({ model: input.model, serve, deploy });
  const engine = resolveEngine(input.model, serve, deploy);
  const model = resolveModel(input.model, strategy, deploy, engine);
  const storage = {
    strategy,
    downloaderImage: downloadsToVolume(strategy, deploy) ? downloaderImage(deploy, serve, image) : null,
    hubDownloadSize: deploy.storage.modelSize ?? DEFAULT_MODEL_SIZE,
  };
  if (strategy === 'hub' && !deploy.storage.modelSize) {
    notes.push(
      `deploy.storage.modelSize is unset: the server's download cache allows ${DEFAULT_MODEL_SIZE} for the model; set it to the model's size (a larger download evicts the pod)`,
    );
  }

  const timing = startupTiming(input, serve, deploy);
  const { startupFailureThreshold, startupBudgetSeconds } = timing;
  const preStopSeconds = deploy.drain.preStopSeconds;
  const terminationGracePeriodSeconds =
    deploy.drain.terminationGracePeriodSeconds ?? preStopSeconds + serve.shutdownTimeoutSeconds + 10;
  const configuredWindow = deploy.autoscaling.scaleDownStabilizationSeconds;
  const scaleDownStabilizationSeconds =
    configuredWindow ?? Math.min(3600, Math.max(MIN_SCALE_DOWN_WINDOW_SECONDS, startupBudgetSeconds));
  if (configuredWindow !== undefined && configuredWindow < startupBudgetSeconds) {
    notes.push(
      `deploy.autoscaling.scaleDownStabilizationSeconds ${configuredWindow} is shorter than a pod's start budget (${startupBudgetSeconds} s): replicas may flap`,
    );
  }

  const metric = deploy.autoscaling.metric ?? (facts.queueMetrics ? 'queue-depth' : 'gpu-utilization');
  let target = deploy.autoscaling.target ?? DEFAULT_TARGETS[metric];
  if (metric !== 'queue-depth' && target > 100) {
    throw usageError(
      `deploy.autoscaling.target is a percentage for ${metric}: use a value in (0, 100], got ${target}`,
      'DEPLOY_BAD_TARGET',
    );
  }
  let replicas = { ...deploy.replicas };
  let capacityPlan: CapacityPlan | null = null;
  if (input.capacity) {
    const peakQps = input.peakQps ?? deploy.capacity.peakQps;
    if (peakQps === undefined) {
      throw usageError(
        'an endpoint bench result needs the peak load to plan for: pass --peak-qps N (or set deploy.capacity.peakQps)',
        'DEPLOY_NO_PEAK',
      );
    }
    capacityPlan = planCapacity({
      capacity: input.capacity,
      peakQps,
      headroom: deploy.capacity.headroom,
      minReplicas: replicas.min,
      metric,
      target,
    });
    replicas = { min: capacityPlan.minReplicas, max: capacityPlan.maxReplicas };
    target = capacityPlan.target;
  } else if (input.peakQps !== undefined) {
    throw usageError(
      '--peak-qps needs an endpoint bench result to divide by: add --from-bench RESULTS.json',
      'DEPLOY_NO_CAPACITY',
    );
  }

  // A graph's nodes scale on queries of their own (graph.ts): serve.template's metrics do not apply to it.
  const { query, metricType, externalMetricName, seriesName } = deploy.graph
    ? { query: '', metricType: 'Value' as const, externalMetricName: '', seriesName: '' }
    : autoscalingQuery(deploy, serve, name, facts, metric);
  const wake = resolveWake(deploy, input.capacity);
  // Scarce GPUs: with two or more replicas, replace one at a time without an extra GPU; a single replica surges
  // by one instead, so the service never drops to zero during a rollout.
  const rollout = {
    maxSurge: deploy.rollout.maxSurge ?? (replicas.min >= 2 ? 0 : 1),
    maxUnavailable: deploy.rollout.maxUnavailable ?? (replicas.min >= 2 ? 1 : 0),
  };
  if (rollout.maxSurge === 0 && rollout.maxUnavailable === 0) rollout.maxSurge = 1;

  return {
    name,
    namespace: deploy.namespace,
    image,
    serve,
    deploy,
    labels,
    selector,
    paths,
    metricsPort: facts.metricsPort ?? null,
    storage,
    model,
    engine,
    container: serverContainerArgv(serve, deploy, name, model.source),
    gpuSelector: gpuNodeSelector(deploy.provider, deploy.gpu.type, deploy.nodeSelector),
    timing: {
      modelLoadSeconds: timing.modelLoadSeconds,
      modelLoadSource: timing.modelLoadSource,
      startupBudgetSource: timing.startupBudgetSource,
      startupPeriodSeconds: STARTUP_PERIOD_SECONDS,
      startupFailureThreshold,
      startupBudgetSeconds,
      preStopSeconds,
      terminationGracePeriodSeconds,
      scaleDownStabilizationSeconds,
      progressDeadlineSeconds: Math.max(600, startupBudgetSeconds + 120),
    },
    replicas,
    rollout,
    autoscaling: {
      engine: deploy.autoscaling.engine,
      metric,
      target,
      query,
      metricType,
      externalMetricName,
      seriesName,
    },
    wake,
    capacityPlan,
    notes,
  };
}

/**
 * The start budget: twice the load (configured, or measured by `--from-bench` — a measurement never lowers it, since a
 * cold start in a cluster pulls the image and reads the weights over the network), and at least the server's floor.
 */
function startupTiming(input: ResolveInput, serve: ServeConfig, deploy: DeployConfig) {
  const configured = deploy.probes.modelLoadSeconds;
  const measured = input.load ? Math.ceil(input.load.loadMs / 1000) : 0;
  const modelLoadSeconds = Math.max(configured, measured);
  const modelLoadSource =
    measured > configured
      ? `measured load ${input.load!.loadMs} ms (${input.load!.file})`
      : 'deploy.probes.modelLoadSeconds';
  const floor = SERVERS[serve.template].startupFloorSeconds;
  const fromLoad = STARTUP_SAFETY_FACTOR * modelLoadSeconds;
  const wanted = Math.max(floor, fromLoad);
  const startupFailureThreshold = Math.ceil(wanted / STARTUP_PERIOD_SECONDS);
  return {
    modelLoadSeconds,
    modelLoadSource,
    startupBudgetSource:
      fromLoad >= floor
        ? `${STARTUP_SAFETY_FACTOR} × model load ${modelLoadSeconds} s`
        : `the ${serve.template} server's cold-start floor ${floor} s`,
    startupFailureThreshold,
    startupBudgetSeconds: startupFailureThreshold * STARTUP_PERIOD_SECONDS,
  };
}

function resolveEngine(model: ModelRef, serve: ServeConfig, deploy: DeployConfig): Resolved['engine'] {
  const job = deploy.compileJob;
  if (!job.image) return null;
  const id = hubModelId(model)!;
  const revision = pinnedRevision(model)!;
  const backend = job.backend ?? COMPILED_BACKENDS[serve.template][0]!;
  const root = deploy.storage.path;
  // Engines live in a tree beside the downloads, never inside a model's directory: the downloader renames a finished
  // download into place, which fails if anything created that directory first.
  return { backend, dir: `${root}/engines/${id}/${revision}/${backend}`, modelDir: downloadDir(root, id, revision) };
}

/** Whether llmops downloads the model onto a shared volume (init containers, or a populate Job for a new volume). */
function downloadsToVolume(strategy: StorageStrategy, deploy: DeployConfig): boolean {
  return strategy === 'init' || (strategy === 'volume' && !deploy.storage.claimName && !deploy.storage.dataSource);
}

/** Where a download of `id` at `revision` lands on a shared model volume. */
export function downloadDir(root: string, id: string, revision: string): string {
  return `${root}/models/${id}/${revision}`;
}

function resolveModel(
  model: ModelRef,
  strategy: StorageStrategy,
  deploy: DeployConfig,
  engine: Resolved['engine'],
): Resolved['model'] {
  const id = hubModelId(model);
  const revision = pinnedRevision(model);
  const root = deploy.storage.path;
  const dir =
    strategy === 'hub' ? null : downloadsToVolume(strategy, deploy) ? downloadDir(root, id!, revision!) : root;
  const source: ModelSource = engine
    ? { kind: 'path', path: engine.dir }
    : dir === null
      ? { kind: 'hub', id: id!, revision: revision! }
      : { kind: 'path', path: dir };
  return { id, revision, dir, source };
}

function downloaderImage(deploy: DeployConfig, serve: ServeConfig, serverImage: string): string {
  const configured = deploy.storage.downloaderImage;
  if (configured) {
    checkPinned(configured, 'deploy.storage.downloaderImage');
    return configured;
  }
  if (SERVERS[serve.template].downloadsFromHub) return serverImage;
  throw usageError(
    `the ${serve.template} image has no Hub client to download the model with: set deploy.storage.downloaderImage to a pinned image with python3 and huggingface_hub`,
    'DEPLOY_NO_DOWNLOADER',
  );
}

/**
 * The server container's argv. Upstream servers get flags derived from the model, port, name and GPUs (then
 * `serve.extraArgs`), checked against the flags the server's own parser declares; `serve.args` replaces the derived
 * flags and `serve.command` the image's entrypoint (a command of your own is not checked).
 */
function serverContainerArgv(
  serve: ServeConfig,
  deploy: DeployConfig,
  name: string,
  source: ModelSource,
): Resolved['container'] {
  const template = serve.template;
  const command = serve.command ?? null;
  if (!isUpstreamServer(template)) {
    const args = serve.args || serve.extraArgs.length > 0 ? [...(serve.args ?? []), ...serve.extraArgs] : null;
    return { command, args };
  }
  if (template === 'triton' && source.kind === 'hub') {
    throw usageError(
      'triton serves a model repository directory, not a Hub id: use storage strategy baked, volume or gcsfuse',
      'DEPLOY_TRITON_NEEDS_REPOSITORY',
    );
  }
  const derived = serverArgv(template, {
    model: source,
    port: serve.port,
    servedName: name,
    gpus: deploy.gpu.count,
    shutdownSeconds: serve.shutdownTimeoutSeconds,
  });
  const flags = [...(serve.args ?? derived), ...serve.extraArgs];
  if (!command) {
    checkServerArgv(template, flags);
    // TGI's entrypoint runs `exec text-generation-launcher $@` unquoted (tgi-entrypoint.sh): an argument with a space
    // would reach the launcher as two.
    const split = template === 'tgi' ? flags.find((arg) => /\s/.test(arg)) : undefined;
    if (split !== undefined) {
      throw usageError(
        `TGI's image splits arguments at spaces (its entrypoint runs \`exec text-generation-launcher $@\` unquoted): \`${split}\` would become several; use a value without spaces, or set serve.command`,
        'DEPLOY_SERVER_ARG_SPLIT',
      );
    }
  }
  return { command, args: [...SERVERS[template].argsPrefix, ...flags] };
}

function resolveWake(deploy: DeployConfig, capacity: EndpointCapacity | undefined): Resolved['wake'] {
  const wake = deploy.autoscaling.wake;
  if (!wake) return null;
  if (wake.httpAddOn) return { kind: 'http-add-on', ...wake.httpAddOn };
  const requestsPerReplica = wake.requestsPerReplica ?? capacity?.requestsPerSecond;
  if (requestsPerReplica === undefined) {
    throw usageError(
      'deploy.autoscaling.wake.query needs the requests/s one replica serves: set deploy.autoscaling.wake.requestsPerReplica, or pass an endpoint bench result with --from-bench',
      'DEPLOY_WAKE_NO_RATE',
    );
  }
  return { kind: 'query', query: wake.query!, requestsPerReplica };
}

function autoscalingQuery(
  deploy: DeployConfig,
  serve: ServeConfig,
  name: string,
  facts: (typeof SERVER_FACTS)[keyof typeof SERVER_FACTS],
  metric: NonNullable<DeployConfig['autoscaling']['metric']>,
): { query: string; metricType: 'AverageValue' | 'Value'; externalMetricName: string; seriesName: string } {
  const { query } = deploy.autoscaling;
  const prefix = `llmops_${name.replace(/-/g, '_')}`;
  const firstSeries = (q: string) => /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/.exec(q)?.[1] ?? q;
  const ns = deploy.namespace;
  const selector = `namespace="${ns}",service="${name}"`;
  if (metric === 'queue-depth') {
    // sum(): one series for the whole service; the autoscaler divides it by the replica count (AverageValue).
    const metrics = facts.queueMetrics;
    if (!query && !metrics) throw noMetric('queue-depth', serve.template);
    const q = query ?? `sum(${metrics!.map((m) => `${m}{${selector}}`).join(' + ')})`;
    return {
      query: q,
      metricType: 'AverageValue',
      externalMetricName: `${prefix}_queue_depth`,
      seriesName: firstSeries(q),
    };
  }
  if (metric === 'gpu-utilization') {
    // DCGM exporter labels its series with the GPU's pod; scraped through a ServiceMonitor those labels clash with the
    // target's own and become exported_namespace / exported_pod (honorLabels: true on the exporter keeps pod / namespace).
    const q =
      query ?? `avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL{exported_namespace="${ns}",exported_pod=~"${name}-.*"}[5m]))`;
    return {
      query: q,
      metricType: 'Value',
      externalMetricName: `${prefix}_gpu_utilization`,
      seriesName: firstSeries(q),
    };
  }
  const kv = facts.kvCache;
  if (!query && !kv) throw noMetric('kv-cache', serve.template);
  const q = query ?? `avg(${kv!.metric}{${selector}}) * ${kv!.toPercent}`;
  return { query: q, metricType: 'Value', externalMetricName: `${prefix}_kv_cache_usage`, seriesName: firstSeries(q) };
}

function noMetric(metric: string, template: string) {
  return usageError(
    `the ${template} server exports no ${metric} metric: set \`deploy.autoscaling.query\` to a PromQL query, or pick another deploy.autoscaling.metric`,
    'DEPLOY_NO_METRIC',
  );
}

/** The image tag as a label value (`1.4.2`), or the short digest. */
function imageVersion(image: string): string | null {
  const digest = /@sha256:([a-f0-9]{12})/.exec(image);
  if (digest) return `sha256-${digest[1]}`;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.lastIndexOf(':') + 1) : null;
  return tag && /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(tag) ? tag : null;
}
