import { createHash } from 'node:crypto';
import { usageError } from '../errors.js';
import type { PrometheusAdapterRules } from './autoscaling.js';
import { scalingBehavior } from './autoscaling.js';
import type { DeployConfig, GraphConfig, GraphNodeConfig } from '../config/deploy.js';
import { gpuNodeSelector, SERVER_FACTS, type ServerFacts } from './facts.js';
import type {
  Container,
  KubeObject,
  PodSpec,
  SeldonComponentSpec,
  SeldonDeployment,
  SeldonGraphNode,
} from '../k8s/objects.js';
import {
  GPU_TOLERATIONS,
  guaranteedResources,
  hardenedContainerSecurity,
  hardenedPodSecurity,
  secretEnv,
} from '../k8s/pod.js';
import { checkPinned } from '../k8s/image.js';
import { DEFAULT_TARGETS, type Resolved } from './resolve.js';

/**
 * Seldon Core v1 is source-available under the Business Source License 1.1 since 1.18.0 (Jan 2024; 1.17.1 and
 * earlier were Apache-2.0): production use needs a commercial licence. Checked in the LICENSE of SeldonIO/seldon-core
 * at v1.17.1 (Apache-2.0) and v1.18.0 / v1.18.2 (BSL 1.1).
 */
export const SELDON_LICENSE_NOTE =
  'Seldon Core v1 (machinelearning.seldon.io) is licensed under the Business Source License 1.1 since 1.18.0: production use needs a licence from Seldon (deploy.graph.runtime: kserve is Apache-2.0).';

/** KServe is Apache-2.0 (LICENSE of kserve/kserve at v0.20.0). */
export const KSERVE_NOTE =
  'KServe (serving.kserve.io, Apache-2.0): the InferenceServices run in RawDeployment mode; install KServe with KEDA for their autoscaling.';

/** Seldon's Python wrapper (seldon-core-microservice): liveness /health/ping, readiness /health/status, no queue metric. */
const SELDON_WRAPPER: ServerFacts = {
  health: '/health/ping',
  ready: '/health/status',
  metrics: '/prometheus',
  queueMetrics: null,
  kvCache: null,
};

/** How one graph node is scaled, or why it is not. */
export type NodeScaling =
  | {
      autoscaled: true;
      engine: 'keda' | 'hpa';
      metric: DeployConfig['autoscaling']['metric'];
      target: number;
      query: string;
      metricType: 'AverageValue' | 'Value';
    }
  | { autoscaled: false; reason: string };

/** One node of the graph as it runs: its server, pod, replica bounds and autoscaling. */
export interface GraphComponent {
  node: GraphNodeConfig;
  /** What the runtime names its Deployment (Seldon: `<sdep>-<predictor>-<index>-<node>`; KServe: `<isvc>-predictor`). */
  workload: string;
  template: NonNullable<GraphNodeConfig['template']>;
  port: number;
  gpu: boolean;
  replicas: { min: number; max: number };
  scaling: NodeScaling;
}

/** What `deploy --json` and the printed summary say about a graph: per node, whether and how it autoscales. */
export interface GraphSummary {
  runtime: GraphConfig['runtime'];
  components: { node: string; workload: string; replicas: { min: number; max: number }; scaling: NodeScaling }[];
}

export interface BuiltGraph {
  objects: KubeObject[];
  /** prometheus-adapter rules for the HPAs of engine hpa, or null. */
  adapterRules: PrometheusAdapterRules | null;
  summary: GraphSummary;
  notes: string[];
}

/** The nodes in depth-first order (the order of componentSpecs). */
export function graphNodes(root: GraphNodeConfig): GraphNodeConfig[] {
  const nodes: GraphNodeConfig[] = [];
  const collect = (node: GraphNodeConfig) => {
    nodes.push(node);
    node.children.forEach(collect);
  };
  collect(root);
  return nodes;
}

export function nodeTemplate(graph: GraphConfig, node: GraphNodeConfig): NonNullable<GraphNodeConfig['template']> {
  return node.template ?? (graph.runtime === 'seldon-v1' ? 'seldon' : 'node');
}

function factsOf(template: NonNullable<GraphNodeConfig['template']>): ServerFacts {
  return template === 'seldon' ? SELDON_WRAPPER : SERVER_FACTS[template];
}

/** The Seldon wrapper listens on what Seldon assigns from 9000 up; llmops declares that port, so it is 9000. */
export function nodePort(node: GraphNodeConfig, template: NonNullable<GraphNodeConfig['template']>): number {
  return node.port ?? (template === 'seldon' ? 9000 : 8000);
}

/**
 * The autoscaling signal of one node, read from its own pods (`pod=~"<workload>-.*"`). `sumOnly`: the runtime's KEDA
 * trigger is always AverageValue (KServe), so averages become sums, which AverageValue divides by the replica count.
 */
export function nodeScaling(
  r: Resolved,
  node: GraphNodeConfig,
  template: NonNullable<GraphNodeConfig['template']>,
  workload: string,
  sumOnly: boolean,
): NodeScaling {
  const engine = r.deploy.autoscaling.engine;
  if (engine === 'none') return { autoscaled: false, reason: 'deploy.autoscaling.engine is none' };
  const facts = factsOf(template);
  const metric =
    node.autoscaling?.metric ?? r.deploy.autoscaling.metric ?? (facts.queueMetrics ? 'queue-depth' : 'gpu-utilization');
  const target =
    node.autoscaling?.target ??
    (node.autoscaling?.metric ? undefined : r.deploy.autoscaling.target) ??
    DEFAULT_TARGETS[metric];
  const ns = r.namespace;
  const selector = `namespace="${ns}",pod=~"${workload}-.*"`;
  const custom = node.autoscaling?.query;
  if (custom)
    return {
      autoscaled: true,
      engine,
      metric,
      target,
      query: custom,
      metricType: metric === 'queue-depth' || sumOnly ? 'AverageValue' : 'Value',
    };
  const average = (inner: string): { query: string; metricType: 'AverageValue' | 'Value' } =>
    sumOnly ? { query: `sum(${inner})`, metricType: 'AverageValue' } : { query: `avg(${inner})`, metricType: 'Value' };
  const fix = `set autoscaling.query on graph node ${node.name}, or another autoscaling.metric`;
  if (metric === 'queue-depth') {
    if (!facts.queueMetrics)
      return { autoscaled: false, reason: `its server (template ${template}) exports no queue-depth metric: ${fix}` };
    const query = `sum(${facts.queueMetrics.map((m) => `${m}{${selector}}`).join(' + ')})`;
    return { autoscaled: true, engine, metric, target, query, metricType: 'AverageValue' };
  }
  if (metric === 'gpu-utilization') {
    if (!node.gpu) return { autoscaled: false, reason: `it runs on CPU, so it has no GPU utilization: ${fix}` };
    const { query, metricType } = average(
      `avg_over_time(DCGM_FI_DEV_GPU_UTIL{exported_namespace="${ns}",exported_pod=~"${workload}-.*"}[5m])`,
    );
    return { autoscaled: true, engine, metric, target, query, metricType };
  }
  if (!facts.kvCache)
    return { autoscaled: false, reason: `its server (template ${template}) exports no kv-cache metric: ${fix}` };
  const inner = average(`${facts.kvCache.metric}{${selector}}`);
  return {
    autoscaled: true,
    engine,
    metric,
    target,
    query: `${inner.query} * ${facts.kvCache.toPercent}`,
    metricType: inner.metricType,
  };
}

/** Replica bounds of a node: its own, else deploy.replicas (at least one pod when nothing scales it). */
export function nodeReplicas(r: Resolved, node: GraphNodeConfig): { min: number; max: number } {
  return node.replicas ?? { ...r.deploy.replicas };
}

/** A node as its runtime runs it: template, port, replicas and scaling under the workload name the runtime gives it. */
export function graphComponent(
  r: Resolved,
  graph: GraphConfig,
  node: GraphNodeConfig,
  workload: string,
  sumOnly: boolean,
): GraphComponent {
  const template = nodeTemplate(graph, node);
  return {
    node,
    workload,
    template,
    port: nodePort(node, template),
    gpu: Boolean(node.gpu),
    replicas: nodeReplicas(r, node),
    scaling: nodeScaling(r, node, template, workload, sumOnly),
  };
}

/**
 * The pod of one node: hardened, probed on its own port and paths, /tmp writable, a memory-backed /dev/shm on GPU
 * nodes, and the Secrets it is given (by reference).
 */
export function componentPod(
  r: Resolved,
  component: Pick<GraphComponent, 'node' | 'template' | 'port' | 'gpu'>,
  options: { containerName: string; portName: string; preStopSleep: boolean },
): PodSpec {
  const { containerName, portName } = options;
  const { node, template, port } = component;
  const facts = factsOf(template);
  const paths = { health: node.paths.health ?? facts.health, ready: node.paths.ready ?? facts.ready };
  const cpu = node.resources?.cpu ?? '1';
  const memory = node.resources?.memory ?? '2Gi';
  const gpu: Record<string, string> = node.gpu ? { 'nvidia.com/gpu': String(node.gpu.count) } : {};
  const wanted = node.secrets ? new Set(node.secrets) : null;
  const secrets = r.deploy.secrets.filter((s) => !wanted || wanted.has(s.env));
  const ports: NonNullable<Container['ports']> = [{ containerPort: port, name: portName, protocol: 'TCP' }];
  if (facts.metricsPort && facts.metricsPort !== port)
    ports.push({ containerPort: facts.metricsPort, name: 'metrics', protocol: 'TCP' });
  // GPU nodes load a model: the startup probe allows the measured (or configured) load time; CPU nodes a minute.
  const startup = node.gpu
    ? { period: r.timing.startupPeriodSeconds, failures: r.timing.startupFailureThreshold }
    : { period: 5, failures: 12 };
  const volumes: NonNullable<PodSpec['volumes']> = [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }];
  const mounts: NonNullable<Container['volumeMounts']> = [{ name: 'tmp', mountPath: '/tmp' }];
  if (node.gpu) {
    // NCCL and PyTorch need more shared memory than the container runtime's 64 MiB.
    volumes.unshift({ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: r.deploy.resources.shm } });
    mounts.unshift({ name: 'dshm', mountPath: '/dev/shm' });
  }
  const env = secretEnv(secrets);
  return {
    serviceAccountName: r.name,
    automountServiceAccountToken: false,
    securityContext: hardenedPodSecurity(),
    terminationGracePeriodSeconds: r.timing.terminationGracePeriodSeconds,
    ...(node.gpu
      ? {
          nodeSelector: gpuNodeSelector(r.deploy.provider, node.gpu.type ?? r.deploy.gpu.type),
          tolerations: GPU_TOLERATIONS,
        }
      : {}),
    containers: [
      {
        name: containerName,
        image: node.image,
        imagePullPolicy: 'Always',
        ...(env.length > 0 ? { env } : {}),
        ports,
        resources: guaranteedResources(cpu, memory, { 'ephemeral-storage': '1Gi', ...gpu }),
        startupProbe: {
          httpGet: { path: paths.health, port },
          periodSeconds: startup.period,
          failureThreshold: startup.failures,
          timeoutSeconds: 5,
        },
        readinessProbe: {
          httpGet: { path: paths.ready, port },
          periodSeconds: 5,
          failureThreshold: 2,
          timeoutSeconds: 5,
        },
        livenessProbe: {
          httpGet: { path: paths.health, port },
          periodSeconds: 20,
          failureThreshold: 3,
          timeoutSeconds: 10,
        },
        ...(options.preStopSleep && r.timing.preStopSeconds > 0
          ? { lifecycle: { preStop: { sleep: { seconds: r.timing.preStopSeconds } } } }
          : {}),
        securityContext: hardenedContainerSecurity(),
        volumeMounts: mounts,
      },
    ],
    volumes,
  };
}

/** A number as the autoscalers want it: a string, no float noise. */
export function threshold(value: number): string {
  return String(Number(value.toFixed(3)));
}

/** The plain-words line for one node, printed and in --json notes. */
export function scalingNote(
  c: { node: string; replicas: { min: number; max: number }; scaling: NodeScaling },
  fixedReplicas: number,
): string {
  if (!c.scaling.autoscaled)
    return `graph node ${c.node} is NOT autoscaled (${c.scaling.reason}): it runs a fixed ${fixedReplicas} replica(s)`;
  const s = c.scaling;
  return `graph node ${c.node}: autoscaled by ${s.engine} on ${s.metric} (target ${threshold(s.target)}), ${c.replicas.min}–${c.replicas.max} replicas`;
}

// ── Seldon Core v1 ───────────────────────────────────────────────────────────

const PREDICTOR = 'default';

/** The operator's name for a component's Deployment (GetDeploymentName in operator/apis/…/v1/seldondeployment_types.go at v1.18.2). */
export function seldonDeploymentName(sdep: string, predictor: string, index: number, container: string): string {
  const name = `${sdep}-${predictor}-${index}-${container}`;
  return name.length > 63 ? `seldon-${createHash('md5').update(name).digest('hex')}` : name;
}

/**
 * An inference graph as one SeldonDeployment: the graph mirrors deploy.graph, and every node gets a component spec of
 * its own, with its own autoscaler (kedaSpec or hpaSpec) and PodDisruptionBudget (pdbSpec), so each scales alone.
 *
 * Ports: a container that declares a port named `http` is served on it (Seldon's setContainerPredictiveUnitDefaults
 * takes that port as the node's endpoint and sets PREDICTIVE_UNIT_HTTP_SERVICE_PORT to it); without one, Seldon
 * assigns 9000, 9001, … in component order, which the probes could not know.
 */
export function seldonGraph(r: Resolved, graph: GraphConfig): BuiltGraph {
  const nodes = graphNodes(graph.root);
  nodes.forEach((node, index) => checkPinned(node.image, `deploy.graph node ${node.name} (#${index + 1}) image`));
  const notes: string[] = [SELDON_LICENSE_NOTE];
  const components = nodes.map((node, index) =>
    graphComponent(r, graph, node, seldonDeploymentName(r.name, PREDICTOR, index, node.name), false),
  );
  const rules: PrometheusAdapterRules['externalRules'] = [];
  const behavior = scalingBehavior(r);
  const componentSpecs = components.map((c): SeldonComponentSpec => {
    // The pinned CRD's preStop has no `sleep` action; without a preStop the operator adds its own `/bin/sleep 10`.
    const spec = componentPod(r, c, { containerName: c.node.name, portName: 'http', preStopSleep: false });
    const pdbSpec = { maxUnavailable: 1 };
    const s = c.scaling;
    if (!s.autoscaled) return { spec, replicas: Math.max(1, c.replicas.min), pdbSpec };
    const value = threshold(s.target);
    if (s.engine === 'keda') {
      return {
        spec,
        pdbSpec,
        kedaSpec: {
          minReplicaCount: c.replicas.min,
          maxReplicaCount: c.replicas.max,
          pollingInterval: r.deploy.autoscaling.pollingIntervalSeconds,
          ...(c.replicas.min === 0 ? { cooldownPeriod: r.timing.scaleDownStabilizationSeconds } : {}),
          advanced: { horizontalPodAutoscalerConfig: { behavior } },
          triggers: [
            {
              type: 'prometheus',
              metricType: s.metricType,
              metadata: { query: s.query, serverAddress: r.deploy.autoscaling.prometheusAddress, threshold: value },
            },
          ],
        },
      };
    }
    const metricName = `llmops_${r.name}_${c.node.name}_${s.metric}`.replace(/-/g, '_');
    rules.push({
      seriesQuery: /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/.exec(s.query)?.[1] ?? s.query,
      resources: { namespaced: false },
      name: { as: metricName },
      metricsQuery: s.query,
    });
    return {
      spec,
      pdbSpec,
      hpaSpec: {
        minReplicas: Math.max(1, c.replicas.min),
        maxReplicas: c.replicas.max,
        metricsv2: [
          {
            type: 'External',
            external: {
              metric: { name: metricName },
              target:
                s.metricType === 'AverageValue'
                  ? { type: 'AverageValue', averageValue: value }
                  : { type: 'Value', value },
            },
          },
        ],
      },
    };
  });
  if (rules.length > 0) {
    notes.push(
      `Seldon's hpaSpec has no scaling behaviour: the component HPAs scale down after Kubernetes' default 300 s window, not the ${r.timing.scaleDownStabilizationSeconds} s this service needs; deploy.autoscaling.engine: keda keeps it`,
      "the component HPAs read external metrics: add extras/prometheus-adapter-rules.yaml to prometheus-adapter's config",
    );
  }
  const seldon: SeldonDeployment = {
    apiVersion: 'machinelearning.seldon.io/v1',
    kind: 'SeldonDeployment',
    metadata: { name: r.name, namespace: r.namespace, labels: r.labels },
    spec: { name: r.name, predictors: [{ name: PREDICTOR, graph: seldonNode(graph.root), componentSpecs }] },
  };
  return finish(r, graph, [seldon], rules, components, notes);
}

function seldonNode(node: GraphNodeConfig): SeldonGraphNode {
  return { name: node.name, type: node.type, endpoint: { type: 'REST' }, children: node.children.map(seldonNode) };
}

export function finish(
  r: Resolved,
  graph: GraphConfig,
  objects: KubeObject[],
  rules: PrometheusAdapterRules['externalRules'],
  components: GraphComponent[],
  notes: string[],
): BuiltGraph {
  const summary: GraphSummary = {
    runtime: graph.runtime,
    components: components.map((c) => ({
      node: c.node.name,
      workload: c.workload,
      replicas: c.replicas,
      scaling: c.scaling,
    })),
  };
  for (const c of summary.components) notes.push(scalingNote(c, Math.max(1, c.replicas.min)));
  if (components.some((c) => c.scaling.autoscaled) && r.deploy.autoscaling.query) {
    notes.push(
      'deploy.autoscaling.query is not used by a graph (it selects the single server): set autoscaling.query on the graph nodes',
    );
  }
  if (components.some((c) => c.scaling.autoscaled)) {
    notes.push(
      `the graph's autoscaling queries select pods by their namespace and pod labels: Prometheus must scrape the graph's pods (e.g. a PodMonitor)`,
    );
  }
  return { objects, adapterRules: rules.length > 0 ? { externalRules: rules } : null, summary, notes };
}

/** Rejects a graph the runtime cannot express, with the key to change. */
export function graphUsageError(message: string, code: string, hint?: string) {
  return usageError(message, code, hint ? { hint } : {});
}
