import { scalingBehavior } from './autoscaling.js';
import type { GraphConfig, GraphNodeConfig } from '../config/deploy.js';
import {
  componentPod,
  finish,
  graphComponent,
  graphNodes,
  graphUsageError,
  KSERVE_NOTE,
  threshold,
  type BuiltGraph,
} from './graph.js';
import type {
  InferenceGraph,
  InferenceGraphStep,
  InferenceService,
  KubeObject,
  PodDisruptionBudget,
} from '../k8s/objects.js';
import { checkPinned } from '../k8s/image.js';
import type { Resolved } from './resolve.js';

/** KServe's own label on an InferenceService's pods (constants.InferenceServicePodLabelKey at v0.20.0). */
const ISVC_POD_LABEL = 'serving.kserve.io/inferenceservice';
/** RawDeployment makes the predictor a Deployment `<isvc>-predictor`: that name must stay a DNS label. */
const MAX_ISVC_NAME = 63 - '-predictor'.length;

/**
 * An inference graph on KServe: each node an InferenceService with a custom predictor container (its own replicas,
 * KEDA autoscaling on its own signal, and a PodDisruptionBudget), and one InferenceGraph `<name>` wiring them.
 *
 * The Seldon node types map to KServe routers: MODEL / TRANSFORMER call the node, then pass its response to their one
 * child (Sequence); OUTPUT_TRANSFORMER calls its child first; COMBINER calls its children together (Ensemble: a map of
 * step name → response) and passes that to the combiner. ROUTER has no KServe equivalent (KServe's Switch routes on
 * conditions over the request, Splitter on weights, never by calling a router service): rejected.
 * The router calls every InferenceService at KServe's V1 path, POST /v1/models/<isvc>:predict.
 */
export function kserveGraph(r: Resolved, graph: GraphConfig): BuiltGraph {
  const nodes = graphNodes(graph.root);
  nodes.forEach((node, index) => checkPinned(node.image, `deploy.graph node ${node.name} (#${index + 1}) image`));
  const isvcName = (node: GraphNodeConfig) => `${r.name}-${node.name}`;
  for (const node of nodes) {
    if (isvcName(node).length > MAX_ISVC_NAME) {
      throw graphUsageError(
        `InferenceService name ${isvcName(node)} is longer than ${MAX_ISVC_NAME} characters (KServe adds -predictor to it)`,
        'DEPLOY_GRAPH_NAME_TOO_LONG',
        'shorten the graph node name or the service name',
      );
    }
  }
  const notes: string[] = [KSERVE_NOTE];
  const components = nodes.map((node) => graphComponent(r, graph, node, `${isvcName(node)}-predictor`, true));
  // KServe's hpa autoscaler class accepts only CPU and memory metrics (validateScalingHPACompExtension at v0.20.0).
  for (const c of components) {
    if (c.scaling.autoscaled && c.scaling.engine === 'hpa') {
      c.scaling = {
        autoscaled: false,
        reason: "KServe's hpa autoscaler class scales only on CPU or memory: use deploy.autoscaling.engine: keda",
      };
    }
  }
  const objects: KubeObject[] = [];
  const behavior = scalingBehavior(r);
  for (const c of components) {
    const name = isvcName(c.node);
    const labels = { ...r.labels, 'app.kubernetes.io/component': c.node.name, 'app.kubernetes.io/instance': name };
    const s = c.scaling;
    const fixed = Math.max(1, c.replicas.min);
    const pod = componentPod(r, c, { containerName: 'kserve-container', portName: 'http1', preStopSleep: true });
    const isvc: InferenceService = {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: {
        name,
        namespace: r.namespace,
        labels,
        annotations: {
          'serving.kserve.io/autoscalerClass': s.autoscaled ? 'keda' : 'none',
          'serving.kserve.io/deploymentMode': 'RawDeployment',
        },
      },
      spec: {
        predictor: {
          ...pod,
          ...(s.autoscaled
            ? {
                minReplicas: c.replicas.min,
                maxReplicas: c.replicas.max,
                autoScaling: {
                  metrics: [
                    {
                      type: 'External',
                      external: {
                        metric: {
                          backend: 'prometheus',
                          serverAddress: r.deploy.autoscaling.prometheusAddress,
                          query: s.query,
                        },
                        target: { type: 'Value', value: threshold(s.target) },
                      },
                    },
                  ],
                  behavior,
                },
              }
            : { minReplicas: fixed, maxReplicas: fixed }),
        },
      },
    };
    const pdb: PodDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: r.namespace, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: { [ISVC_POD_LABEL]: name } } },
    };
    objects.push(isvc, pdb);
  }
  if (components.some((c) => c.scaling.autoscaled)) {
    notes.push(
      `KServe passes only the stabilization windows of the scaling behaviour to KEDA (not the slow scale-down policy of ${r.deploy.autoscaling.scaleDownPods} pod(s) per ${r.deploy.autoscaling.scaleDownPeriodSeconds} s), and its KEDA trigger is always AverageValue: the queries sum over the node's pods`,
    );
  }
  objects.push(inferenceGraph(r, graph, isvcName));
  notes.push(
    `every graph node answers POST /v1/models/<its InferenceService name>:predict (KServe V1 protocol), the path the InferenceGraph router calls`,
  );
  return finish(r, graph, objects, [], components, notes);
}

function inferenceGraph(r: Resolved, graph: GraphConfig, isvcName: (node: GraphNodeConfig) => string): InferenceGraph {
  const nodes: InferenceGraph['spec']['nodes'] = {};
  const sequence = (steps: InferenceGraphStep[]) =>
    steps.map((step, i) => (i === 0 ? step : { ...step, data: '$response' as const }));
  const single = (node: GraphNodeConfig): InferenceGraphStep => {
    const steps = stepsOf(node);
    if (steps.length === 1) return { ...steps[0]!, name: node.name };
    const name = `${node.name}-sequence`;
    nodes[name] = { routerType: 'Sequence', steps: sequence(steps) };
    return { name: node.name, nodeName: name };
  };
  const stepsOf = (node: GraphNodeConfig): InferenceGraphStep[] => {
    const self: InferenceGraphStep = { name: node.name, serviceName: isvcName(node) };
    if (node.type === 'ROUTER') {
      throw graphUsageError(
        `graph node ${node.name} is a ROUTER, which KServe cannot run (its InferenceGraph routes by request conditions or weights, not by calling a router service)`,
        'DEPLOY_GRAPH_KSERVE_ROUTER',
        'use deploy.graph.runtime: seldon-v1, or make the node a COMBINER',
      );
    }
    if (node.type === 'COMBINER') {
      const name = `${node.name}-inputs`;
      nodes[name] = { routerType: 'Ensemble', steps: node.children.map(single) };
      return [{ name, nodeName: name }, self];
    }
    if (node.children.length > 1) {
      throw graphUsageError(
        `graph node ${node.name} (${node.type}) has ${node.children.length} children: on KServe only a COMBINER fans out`,
        'DEPLOY_GRAPH_KSERVE_FANOUT',
        `put a COMBINER under ${node.name} to combine its children`,
      );
    }
    const child = node.children[0] ? stepsOf(node.children[0]) : [];
    return node.type === 'OUTPUT_TRANSFORMER' ? [...child, self] : [self, ...child];
  };
  nodes.root = { routerType: 'Sequence', steps: sequence(stepsOf(graph.root)) };
  const sorted = Object.fromEntries(
    Object.keys(nodes)
      .sort()
      .map((key) => [key, nodes[key]!]),
  );
  return {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'InferenceGraph',
    metadata: {
      name: r.name,
      namespace: r.namespace,
      labels: r.labels,
      annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' },
    },
    spec: {
      nodes: sorted,
      serviceAccountName: r.name,
      minReplicas: Math.max(1, r.deploy.replicas.min),
      maxReplicas: r.deploy.replicas.max,
      resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } },
    },
  };
}
