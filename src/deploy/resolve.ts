import { usageError } from '../errors.js';
import type { DeployConfig, ServeConfig } from './config.js';
import { planCapacity, type CapacityPlan, type EndpointCapacity, type EngineLoad } from './capacity.js';
import { gpuNodeSelector, SERVER_FACTS } from './facts.js';
import type { Labels } from './k8s.js';

/** The config model entry as llmops.yaml allows it. */
export type ModelRef = string | { id?: string | undefined; path?: string | undefined; revision?: string | undefined; dtype?: string | undefined } | undefined;

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
  model: { id: string | null; revision: string | null; dir: string };
  gpuSelector: Labels;
  timing: {
    modelLoadSeconds: number;
    modelLoadSource: string;
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
  capacityPlan: CapacityPlan | null;
  notes: string[];
}

export const DEFAULT_TARGETS = { 'queue-depth': 4, 'gpu-utilization': 70, 'kv-cache': 80 } as const;
/** A pod may take twice the measured load (cold node cache, busy disk), and never less than a minute. */
const STARTUP_SAFETY_FACTOR = 2;
const MIN_STARTUP_BUDGET_SECONDS = 60;
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

  const model = resolveModel(input.model, deploy, name);

  const modelLoadSeconds = input.load ? Math.ceil(input.load.loadMs / 1000) : deploy.probes.modelLoadSeconds;
  const modelLoadSource = input.load ? `measured load ${input.load.loadMs} ms (${input.load.file})` : 'deploy.probes.modelLoadSeconds';
  const wanted = Math.max(MIN_STARTUP_BUDGET_SECONDS, STARTUP_SAFETY_FACTOR * modelLoadSeconds);
  const startupFailureThreshold = Math.ceil(wanted / STARTUP_PERIOD_SECONDS);
  const startupBudgetSeconds = startupFailureThreshold * STARTUP_PERIOD_SECONDS;
  const preStopSeconds = deploy.drain.preStopSeconds;
  const terminationGracePeriodSeconds = deploy.drain.terminationGracePeriodSeconds ?? preStopSeconds + serve.shutdownTimeoutSeconds + 10;
  const configuredWindow = deploy.autoscaling.scaleDownStabilizationSeconds;
  const scaleDownStabilizationSeconds = configuredWindow ?? Math.min(3600, Math.max(MIN_SCALE_DOWN_WINDOW_SECONDS, startupBudgetSeconds));
  if (configuredWindow !== undefined && configuredWindow < startupBudgetSeconds) {
    notes.push(
      `deploy.autoscaling.scaleDownStabilizationSeconds ${configuredWindow} is shorter than a pod's start budget (${startupBudgetSeconds} s): replicas may flap`,
    );
  }

  const metric = deploy.autoscaling.metric;
  let target = deploy.autoscaling.target ?? DEFAULT_TARGETS[metric];
  let replicas = { ...deploy.replicas };
  let capacityPlan: CapacityPlan | null = null;
  if (input.capacity) {
    const peakQps = input.peakQps ?? deploy.capacity.peakQps;
    if (peakQps === undefined) {
      throw usageError('an endpoint bench result needs the peak load to plan for: pass --peak-qps N (or set deploy.capacity.peakQps)', 'DEPLOY_NO_PEAK');
    }
    capacityPlan = planCapacity({ capacity: input.capacity, peakQps, headroom: deploy.capacity.headroom, minReplicas: replicas.min, metric, target });
    replicas = { min: capacityPlan.minReplicas, max: capacityPlan.maxReplicas };
    target = capacityPlan.target;
  } else if (input.peakQps !== undefined) {
    throw usageError('--peak-qps needs an endpoint bench result to divide by: add --from-bench RESULTS.json', 'DEPLOY_NO_CAPACITY');
  }

  const { query, metricType, externalMetricName, seriesName } = autoscalingQuery(deploy, serve, name, facts);
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
    model,
    gpuSelector: gpuNodeSelector(deploy.provider, deploy.gpu.type),
    timing: {
      modelLoadSeconds,
      modelLoadSource,
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
    autoscaling: { engine: deploy.autoscaling.engine, metric, target, query, metricType, externalMetricName, seriesName },
    capacityPlan,
    notes,
  };
}

function resolveModel(model: ModelRef, deploy: DeployConfig, name: string): Resolved['model'] {
  const id = typeof model === 'string' ? (isLocal(model) ? null : model) : (model?.id ?? null);
  const revision = typeof model === 'object' ? (model.revision ?? null) : null;
  const root = deploy.storage.path;
  if (deploy.storage.strategy === 'init' && id && revision) {
    return { id, revision, dir: `${root}/${id}/${revision}` };
  }
  void name;
  return { id, revision, dir: root };
}

function isLocal(model: string): boolean {
  return model.startsWith('.') || model.startsWith('/') || model.startsWith('~');
}

function autoscalingQuery(
  deploy: DeployConfig,
  serve: ServeConfig,
  name: string,
  facts: (typeof SERVER_FACTS)[keyof typeof SERVER_FACTS],
): { query: string; metricType: 'AverageValue' | 'Value'; externalMetricName: string; seriesName: string } {
  const { metric, query } = deploy.autoscaling;
  const prefix = `llmops_${name.replace(/-/g, '_')}`;
  const firstSeries = (q: string) => /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/.exec(q)?.[1] ?? q;
  const ns = deploy.namespace;
  const selector = `namespace="${ns}",service="${name}"`;
  if (metric === 'queue-depth') {
    // sum(): one series for the whole service; the autoscaler divides it by the replica count (AverageValue).
    const metrics = facts.queueMetrics;
    if (!query && !metrics) throw noMetric('queue-depth', serve.template);
    const q = query ?? `sum(${metrics!.map((m) => `${m}{${selector}}`).join(' + ')})`;
    return { query: q, metricType: 'AverageValue', externalMetricName: `${prefix}_queue_depth`, seriesName: firstSeries(q) };
  }
  if (metric === 'gpu-utilization') {
    // DCGM exporter labels its series with the GPU's pod; scraped through a ServiceMonitor those labels clash with the
    // target's own and become exported_namespace / exported_pod (honorLabels: true on the exporter keeps pod / namespace).
    const q = query ?? `avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL{exported_namespace="${ns}",exported_pod=~"${name}-.*"}[5m]))`;
    return { query: q, metricType: 'Value', externalMetricName: `${prefix}_gpu_utilization`, seriesName: firstSeries(q) };
  }
  const kv = facts.kvCache;
  if (!query && !kv) throw noMetric('kv-cache', serve.template);
  const q = query ?? `avg(${kv!.metric}{${selector}}) * ${kv!.toPercent}`;
  return { query: q, metricType: 'Value', externalMetricName: `${prefix}_kv_cache_usage`, seriesName: firstSeries(q) };
}

function noMetric(metric: string, template: string) {
  return usageError(`the ${template} server exports no ${metric} metric: set \`deploy.autoscaling.query\` to a PromQL query, or pick another deploy.autoscaling.metric`, 'DEPLOY_NO_METRIC');
}

/** A tag other than `latest`, or a digest: the same manifest must always run the same bits. */
export function checkPinned(image: string, where: string): void {
  if (!isPinnedImage(image)) {
    throw usageError(`${where} \`${image}\` is not pinned: use a version tag (not latest) or a digest (@sha256:…)`, 'DEPLOY_IMAGE_NOT_PINNED');
  }
}

export function isPinnedImage(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  return tag !== '' && tag !== 'latest';
}

/** The image tag as a label value (`1.4.2`), or the short digest. */
function imageVersion(image: string): string | null {
  const digest = /@sha256:([a-f0-9]{12})/.exec(image);
  if (digest) return `sha256-${digest[1]}`;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.lastIndexOf(':') + 1) : null;
  return tag && /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(tag) ? tag : null;
}
