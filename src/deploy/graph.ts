import type { GraphNodeConfig } from './config.js';
import { gpuNodeSelector } from './facts.js';
import type { PodSpec, SeldonDeployment, SeldonGraphNode } from './k8s.js';
import { GPU_TOLERATIONS, guaranteedResources, hardenedContainerSecurity, hardenedPodSecurity } from './pod.js';
import { checkPinned, type Resolved } from './resolve.js';

/** Seldon Core v1 is source-available under the Business Source License 1.1: production use needs a commercial licence. */
export const SELDON_LICENSE_NOTE =
  'Seldon Core v1 (machinelearning.seldon.io) is licensed under the Business Source License 1.1 since 1.15: production use needs a licence from Seldon.';

/**
 * An inference graph as one SeldonDeployment: the graph mirrors deploy.graph, and every node gets a component spec of
 * its own so each scales alone (the encoder on CPU, the LLM on a GPU).
 */
export function seldonDeployment(r: Resolved, root: GraphNodeConfig): SeldonDeployment {
  const nodes: GraphNodeConfig[] = [];
  const collect = (node: GraphNodeConfig) => {
    nodes.push(node);
    node.children.forEach(collect);
  };
  collect(root);
  nodes.forEach((node, index) => checkPinned(node.image, `deploy.graph node ${node.name} (#${index + 1}) image`));
  return {
    apiVersion: 'machinelearning.seldon.io/v1',
    kind: 'SeldonDeployment',
    metadata: { name: r.name, namespace: r.namespace, labels: r.labels },
    spec: {
      name: r.name,
      predictors: [
        {
          name: 'default',
          replicas: Math.max(1, r.replicas.min),
          graph: graphNode(root),
          componentSpecs: nodes.map((node) => ({ spec: componentPod(r, node) })),
        },
      ],
    },
  };
}

function graphNode(node: GraphNodeConfig): SeldonGraphNode {
  return { name: node.name, type: node.type, endpoint: { type: 'REST' }, children: node.children.map(graphNode) };
}

function componentPod(r: Resolved, node: GraphNodeConfig): PodSpec {
  const cpu = node.resources?.cpu ?? '1';
  const memory = node.resources?.memory ?? '2Gi';
  const gpu: Record<string, string> = node.gpu ? { 'nvidia.com/gpu': String(node.gpu.count) } : {};
  return {
    serviceAccountName: r.name,
    automountServiceAccountToken: false,
    securityContext: hardenedPodSecurity(),
    terminationGracePeriodSeconds: r.timing.terminationGracePeriodSeconds,
    ...(node.gpu ? { nodeSelector: gpuNodeSelector(r.deploy.provider, node.gpu.type ?? r.deploy.gpu.type), tolerations: GPU_TOLERATIONS } : {}),
    containers: [
      {
        name: node.name,
        image: node.image,
        imagePullPolicy: 'Always',
        resources: guaranteedResources(cpu, memory, { 'ephemeral-storage': '1Gi', ...gpu }),
        securityContext: hardenedContainerSecurity(),
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
  };
}
