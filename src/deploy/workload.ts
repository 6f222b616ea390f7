import type {
  Container,
  Deployment,
  EnvVar,
  NetworkPolicy,
  NetworkPolicyPeer,
  PodDisruptionBudget,
  Service,
  ServiceAccount,
} from '../k8s/objects.js';
import { isUpstreamServer, SERVERS } from '../servers/catalog.js';
import { HTTP_ADD_ON } from './autoscaling.js';
import {
  GPU_TOLERATIONS,
  guaranteedResources,
  hardenedContainerSecurity,
  hardenedPodSecurity,
  scratchVolumes,
  secretEnv,
  type Scratch,
} from '../k8s/pod.js';
import { sumBytes } from '../k8s/quantity.js';
import type { Resolved } from './resolve.js';
import type { ModelStorage } from './storage.js';

const HTTP_PORT_NAME = 'http';
const METRICS_PORT_NAME = 'metrics';

function meta(r: Resolved, annotations: Record<string, string> = {}) {
  return {
    name: r.name,
    namespace: r.namespace,
    labels: r.labels,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** The server pod's scratch: shared memory, /tmp, and the cache volume (which also holds a model the server downloads). */
export function serverScratch(r: Resolved): Scratch {
  const { deploy } = r;
  const cache =
    r.storage.strategy === 'hub' ? sumBytes(deploy.resources.cache, r.storage.hubDownloadSize) : deploy.resources.cache;
  return scratchVolumes({ shm: deploy.resources.shm, cache, cacheEnv: SERVERS[r.serve.template].cacheEnv });
}

export function serverContainer(r: Resolved, storage: ModelStorage): Container {
  const { deploy, serve, timing } = r;
  const scratch = serverScratch(r);
  // Our own servers (node, fastapi) read their model, port and drain time from the environment; upstream servers
  // get them as flags (r.container.args).
  const serverEnv: Record<string, string> = !isUpstreamServer(serve.template)
    ? {
        ...(r.model.source.kind === 'path' ? { MODEL_DIR: r.model.source.path } : {}),
        PORT: String(serve.port),
        SHUTDOWN_TIMEOUT: String(serve.shutdownTimeoutSeconds),
      }
    : {};
  const plainEnv: EnvVar[] = [
    ...Object.entries({ HF_HUB_DISABLE_TELEMETRY: '1', ...serverEnv, ...serve.env }).map(([name, value]) => ({
      name,
      value,
    })),
    ...scratch.env.filter((e) => serve.env[e.name] === undefined && serverEnv[e.name] === undefined),
  ].sort((a, b) => a.name.localeCompare(b.name));
  const ports: NonNullable<Container['ports']> = [{ containerPort: serve.port, name: HTTP_PORT_NAME, protocol: 'TCP' }];
  if (r.metricsPort !== null) ports.push({ containerPort: r.metricsPort, name: METRICS_PORT_NAME, protocol: 'TCP' });
  const gpu = String(deploy.gpu.count);
  return {
    name: 'server',
    image: r.image,
    imagePullPolicy: 'Always',
    ...(r.container.command ? { command: r.container.command } : {}),
    ...(r.container.args ? { args: r.container.args } : {}),
    env: [...plainEnv, ...secretEnv(deploy.secrets)],
    ports,
    resources: guaranteedResources(deploy.resources.cpu, deploy.resources.memory, {
      // The disk-backed volumes count against the pod's ephemeral storage: the limit covers them plus the container's own.
      'ephemeral-storage': sumBytes(deploy.resources.ephemeralStorage, scratch.diskBytes),
      'nvidia.com/gpu': gpu,
    }),
    // The startup probe holds liveness and readiness off until the model has loaded, for as long as the load may take.
    startupProbe: {
      httpGet: { path: r.paths.health, port: HTTP_PORT_NAME },
      periodSeconds: timing.startupPeriodSeconds,
      failureThreshold: timing.startupFailureThreshold,
      timeoutSeconds: 5,
    },
    readinessProbe: {
      httpGet: { path: r.paths.ready, port: HTTP_PORT_NAME },
      periodSeconds: 5,
      failureThreshold: 2,
      timeoutSeconds: 5,
    },
    // Lenient: a server busy with long generations must not be restarted for one slow health check.
    livenessProbe: {
      httpGet: { path: r.paths.health, port: HTTP_PORT_NAME },
      periodSeconds: 20,
      failureThreshold: 3,
      timeoutSeconds: 10,
    },
    // Keep serving while endpoints and load balancers drop the pod; then SIGTERM starts the server's own drain.
    ...(timing.preStopSeconds > 0 ? { lifecycle: { preStop: { sleep: { seconds: timing.preStopSeconds } } } } : {}),
    securityContext: hardenedContainerSecurity(),
    volumeMounts: [...scratch.mounts, ...storage.mounts].sort((a, b) => a.mountPath.localeCompare(b.mountPath)),
  };
}

export function deployment(r: Resolved, storage: ModelStorage): Deployment {
  const scratch = serverScratch(r);
  const podAnnotations = { 'kubectl.kubernetes.io/default-container': 'server', ...storage.podAnnotations };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(r),
    spec: {
      // An autoscaler owns the replica count; a fixed spec.replicas would fight it on every apply.
      ...(r.autoscaling.engine === 'none' ? { replicas: Math.max(1, r.replicas.min) } : {}),
      selector: { matchLabels: r.selector },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: r.rollout.maxSurge, maxUnavailable: r.rollout.maxUnavailable },
      },
      revisionHistoryLimit: 5,
      progressDeadlineSeconds: r.timing.progressDeadlineSeconds,
      template: {
        metadata: { labels: r.labels, annotations: podAnnotations },
        spec: {
          serviceAccountName: r.name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: hardenedPodSecurity(),
          terminationGracePeriodSeconds: r.timing.terminationGracePeriodSeconds,
          nodeSelector: r.gpuSelector,
          tolerations: GPU_TOLERATIONS,
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    labelSelector: { matchLabels: r.selector },
                    topologyKey: 'kubernetes.io/hostname',
                  },
                },
              ],
            },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: r.selector },
            },
          ],
          ...(storage.initContainers.length > 0 ? { initContainers: storage.initContainers } : {}),
          containers: [serverContainer(r, storage)],
          volumes: [...scratch.volumes, ...storage.volumes].sort((a, b) => a.name.localeCompare(b.name)),
        },
      },
    },
  };
}

export function service(r: Resolved): Service {
  const ports: Service['spec']['ports'] = [
    { name: HTTP_PORT_NAME, port: r.serve.port, protocol: 'TCP', targetPort: HTTP_PORT_NAME },
  ];
  if (r.metricsPort !== null)
    ports.push({ name: METRICS_PORT_NAME, port: r.metricsPort, protocol: 'TCP', targetPort: METRICS_PORT_NAME });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(r),
    spec: { type: 'ClusterIP', selector: r.selector, ports },
  };
}

export function serviceAccount(r: Resolved, storage: ModelStorage): ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: meta(r, storage.serviceAccountAnnotations),
    automountServiceAccountToken: false,
  };
}

/** One voluntary eviction at a time: node drains proceed, and a multi-replica service keeps serving. */
export function podDisruptionBudget(r: Resolved): PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(r),
    spec: { maxUnavailable: 1, selector: { matchLabels: r.selector } },
  };
}

/**
 * Ingress: the API port from this namespace and deploy.allowFrom (namespaces, selected pods, CIDRs), metrics from the
 * monitoring namespace. Egress: DNS, plus HTTPS when the model is downloaded or read from a bucket.
 */
export function networkPolicy(r: Resolved, storage: ModelStorage): NetworkPolicy {
  // The KEDA HTTP add-on's interceptor forwards every request from its own namespace.
  const viaInterceptor = r.wake?.kind === 'http-add-on' ? [HTTP_ADD_ON.namespace] : [];
  const apiPeers = [{ podSelector: {} }, ...[...r.deploy.allowFrom, ...viaInterceptor].map(allowPeer)];
  const monitoring = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': r.deploy.monitoring.namespace } },
  };
  const metricsPort = r.metricsPort ?? r.serve.port;
  const ingress: NetworkPolicy['spec']['ingress'] = [
    { from: apiPeers, ports: [{ port: r.serve.port, protocol: 'TCP' }] },
  ];
  ingress.push({ from: [monitoring], ports: [{ port: metricsPort, protocol: 'TCP' }] });
  const egress: NetworkPolicy['spec']['egress'] = [
    {
      to: DNS_PEERS,
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    },
  ];
  if (storage.needsInternet) egress.push({ ports: [{ port: 443, protocol: 'TCP' }] });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(r),
    spec: { podSelector: { matchLabels: r.selector }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
  };
}

/**
 * Where a pod's DNS queries go, by cluster DNS setup. A pod selector only matches pods, so the two resolvers that are
 * not (ordinary) pods need ipBlock peers:
 * - kube-dns / CoreDNS pods (`k8s-app: kube-dns` in every distribution's manifests), reached through the kube-dns
 *   Service: policies see the DNAT-ed pod address.
 * - NodeLocal DNSCache: a hostNetwork DaemonSet listening on the link-local 169.254.20.10 (kubernetes
 *   cluster/addons/dns/nodelocaldns README; GKE's add-on, on by default on Autopilot and recent Standard clusters).
 * - GKE Cloud DNS: kubelet points resolv.conf at the node's metadata server, 169.254.169.254 (GKE Cloud DNS docs).
 * The link-local /32s exist only on the node itself, so allowing them opens nothing beyond the node's resolver.
 */
const DNS_PEERS: NetworkPolicyPeer[] = [
  { namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
  { ipBlock: { cidr: '169.254.20.10/32' } },
  { ipBlock: { cidr: '169.254.169.254/32' } },
];

type AllowFrom = Resolved['deploy']['allowFrom'][number];

/** A namespace name, some pods (here or in a namespace), or a CIDR as a NetworkPolicy peer. */
function allowPeer(allow: AllowFrom): NetworkPolicyPeer {
  const byName = (ns: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
  if (typeof allow === 'string') return { namespaceSelector: byName(allow) };
  if (allow.cidr !== undefined)
    return { ipBlock: { cidr: allow.cidr, ...(allow.except?.length ? { except: allow.except } : {}) } };
  return {
    ...(allow.namespace !== undefined ? { namespaceSelector: byName(allow.namespace) } : {}),
    // Without a namespace, a pod selector alone means pods of this namespace.
    ...(allow.podSelector !== undefined ? { podSelector: { matchLabels: allow.podSelector } } : {}),
  };
}
