/**
 * Lint rules for Kubernetes manifests serving models. Each rule names the kube-score, Polaris and kube-linter checks it
 * mirrors, so those tools' suppression annotations apply to it; rules without a mirror are GPU-serving specific.
 */

import { isPinnedImage } from '../../k8s/image.js';

export type Manifest = {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown> };
} & Record<string, unknown>;

export interface Mirrors {
  kubeScore?: string[];
  polaris?: string[];
  kubeLinter?: string[];
}

export interface RuleContext {
  all: readonly Manifest[];
}

export interface Rule {
  id: string;
  description: string;
  mirrors: Mirrors;
  /** Messages for one object; empty when it passes. */
  check(object: Manifest, ctx: RuleContext): string[];
}

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped input */
type Any = any;

interface PodLike {
  spec: Any;
  templateAnnotations: Record<string, unknown>;
  /** Long-running server (probes expected), not a batch job. */
  serving: boolean;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

/** The pod specs inside an object: workloads, jobs, pods, and the component specs of a SeldonDeployment. */
export function podsOf(object: Manifest): PodLike[] {
  const o = object as Any;
  const kind = String(object.kind);
  if (WORKLOAD_KINDS.has(kind))
    return o.spec?.template?.spec
      ? [
          {
            spec: o.spec.template.spec,
            templateAnnotations: o.spec.template.metadata?.annotations ?? {},
            serving: true,
          },
        ]
      : [];
  if (kind === 'Job')
    return o.spec?.template?.spec
      ? [
          {
            spec: o.spec.template.spec,
            templateAnnotations: o.spec.template.metadata?.annotations ?? {},
            serving: false,
          },
        ]
      : [];
  if (kind === 'CronJob') {
    const t = o.spec?.jobTemplate?.spec?.template;
    return t?.spec ? [{ spec: t.spec, templateAnnotations: t.metadata?.annotations ?? {}, serving: false }] : [];
  }
  if (kind === 'Pod') return o.spec ? [{ spec: o.spec, templateAnnotations: {}, serving: true }] : [];
  if (kind === 'SeldonDeployment') {
    // The Seldon operator adds its own probes and wraps the containers: probe rules do not apply.
    return (o.spec?.predictors ?? []).flatMap((p: Any) =>
      (p.componentSpecs ?? []).map((c: Any) => ({ spec: c.spec ?? {}, templateAnnotations: {}, serving: false })),
    );
  }
  return [];
}

function containersOf(pod: PodLike): Any[] {
  return [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
}

function mainContainers(pod: PodLike): Any[] {
  return pod.spec.containers ?? [];
}

/** A rule over every container of every pod in the object. */
function perContainer(fn: (container: Any, pod: PodLike, init: boolean) => string | null): Rule['check'] {
  return (object) =>
    podsOf(object).flatMap((pod) => {
      const inits = new Set(pod.spec.initContainers ?? []);
      return containersOf(pod)
        .map((c) => fn(c, pod, inits.has(c)))
        .filter((m): m is string => m !== null);
    });
}

function effective(container: Any, pod: PodLike, key: string): unknown {
  return container.securityContext?.[key] ?? pod.spec.securityContext?.[key];
}

function requestsGpu(container: Any): boolean {
  const r = container.resources ?? {};
  return Object.keys({ ...r.limits, ...r.requests }).some((key) => /^(nvidia\.com|amd\.com)\/gpu$/.test(key));
}

function podUsesGpu(pod: PodLike): boolean {
  return containersOf(pod).some(requestsGpu);
}

function matches(selector: Record<string, unknown> | undefined, labels: Record<string, unknown> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function sameNamespace(a: Manifest, b: Manifest): boolean {
  return (a.metadata?.namespace ?? '') === (b.metadata?.namespace ?? '');
}

function templateLabels(object: Manifest): Record<string, unknown> | undefined {
  return (object as Any).spec?.template?.metadata?.labels;
}

function isWorkload(object: Manifest): boolean {
  return WORKLOAD_KINDS.has(String(object.kind)) && String(object.kind) !== 'DaemonSet';
}

/** Autoscalers (HPA or ScaledObject) targeting this object. */
function autoscalersOf(object: Manifest, all: readonly Manifest[]): Manifest[] {
  return all.filter((a) => {
    if (!sameNamespace(a, object)) return false;
    const ref = (a as Any).spec?.scaleTargetRef;
    if (!ref) return false;
    const kind = ref.kind ?? 'Deployment';
    return (
      (a.kind === 'HorizontalPodAutoscaler' || a.kind === 'ScaledObject') &&
      kind === object.kind &&
      ref.name === object.metadata?.name
    );
  });
}

function behaviorOf(autoscaler: Manifest): Any {
  const spec = (autoscaler as Any).spec ?? {};
  return autoscaler.kind === 'ScaledObject' ? spec.advanced?.horizontalPodAutoscalerConfig?.behavior : spec.behavior;
}

function startupBudgetSeconds(object: Manifest): number | null {
  const containers = (object as Any).spec?.template?.spec?.containers ?? [];
  const budgets = containers
    .map((c: Any) => c.startupProbe)
    .filter(Boolean)
    .map((p: Any) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3) + (p.initialDelaySeconds ?? 0));
  return budgets.length > 0 ? Math.max(...budgets) : null;
}

const SECRET_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEYS?|CREDENTIALS?|PRIVATE_KEY)$/i;
export const MIN_SCALE_DOWN_WINDOW_SECONDS = 600;

export const RULES: Rule[] = [
  {
    id: 'image-tag',
    description: 'images are pinned: a tag other than latest, or a digest',
    mirrors: { kubeScore: ['container-image-tag'], polaris: ['tagNotSpecified'], kubeLinter: ['latest-tag'] },
    check: perContainer((c) =>
      typeof c.image === 'string' && isPinnedImage(c.image)
        ? null
        : `container ${c.name}: image \`${c.image}\` is not pinned (use a version tag or a digest)`,
    ),
  },
  {
    id: 'image-pull-policy',
    description: 'imagePullPolicy is Always, so a moved tag cannot serve stale bits on some nodes',
    mirrors: { kubeScore: ['container-image-pull-policy'], polaris: ['pullPolicyNotAlways'] },
    check: perContainer((c) =>
      c.imagePullPolicy === 'Always' || /@sha256:/.test(String(c.image))
        ? null
        : `container ${c.name}: imagePullPolicy is ${c.imagePullPolicy ?? 'unset'}, not Always`,
    ),
  },
  {
    id: 'resources',
    description: 'CPU and memory requests and limits are set',
    mirrors: {
      kubeScore: ['container-resources'],
      polaris: ['cpuRequestsMissing', 'cpuLimitsMissing', 'memoryRequestsMissing', 'memoryLimitsMissing'],
      kubeLinter: ['unset-cpu-requirements', 'unset-memory-requirements'],
    },
    check: perContainer((c) => {
      const missing = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'].filter((key) => {
        const [kind, name] = key.split('.') as [string, string];
        return c.resources?.[kind]?.[name] === undefined;
      });
      return missing.length === 0 ? null : `container ${c.name}: no ${missing.join(', ')}`;
    }),
  },
  {
    id: 'ephemeral-storage',
    description: 'ephemeral-storage request and limit are set (a filling cache must not evict its neighbours)',
    mirrors: { kubeScore: ['container-ephemeral-storage-request-and-limit'] },
    check: perContainer((c) =>
      c.resources?.requests?.['ephemeral-storage'] !== undefined &&
      c.resources?.limits?.['ephemeral-storage'] !== undefined
        ? null
        : `container ${c.name}: no ephemeral-storage request and limit`,
    ),
  },
  {
    id: 'run-as-non-root',
    description: 'containers run as a non-root user',
    mirrors: { polaris: ['runAsRootAllowed'], kubeLinter: ['run-as-non-root'] },
    check: perContainer((c, pod) => {
      const user = effective(c, pod, 'runAsUser');
      return effective(c, pod, 'runAsNonRoot') === true || (typeof user === 'number' && user > 0)
        ? null
        : `container ${c.name}: may run as root (set runAsNonRoot: true)`;
    }),
  },
  {
    id: 'user-group-id',
    description: 'user and group ids above 10000, clear of host users',
    mirrors: { kubeScore: ['container-security-context-user-group-id'] },
    check: perContainer((c, pod) => {
      const user = effective(c, pod, 'runAsUser');
      const group = effective(c, pod, 'runAsGroup');
      return typeof user === 'number' && user > 10000 && typeof group === 'number' && group > 10000
        ? null
        : `container ${c.name}: runAsUser and runAsGroup should be above 10000 (got ${String(user)}/${String(group)})`;
    }),
  },
  {
    id: 'privilege-escalation',
    description: 'allowPrivilegeEscalation is false',
    mirrors: { polaris: ['privilegeEscalationAllowed'], kubeLinter: ['privilege-escalation-container'] },
    check: perContainer((c) =>
      c.securityContext?.allowPrivilegeEscalation === false
        ? null
        : `container ${c.name}: allowPrivilegeEscalation is not false`,
    ),
  },
  {
    id: 'privileged',
    description: 'containers are not privileged',
    mirrors: {
      kubeScore: ['container-security-context-privileged'],
      polaris: ['runAsPrivileged'],
      kubeLinter: ['privileged-container'],
    },
    check: perContainer((c) =>
      c.securityContext?.privileged === true ? `container ${c.name}: runs privileged` : null,
    ),
  },
  {
    id: 'read-only-root-filesystem',
    description: 'the root filesystem is read-only (scratch space comes from emptyDirs)',
    mirrors: {
      kubeScore: ['container-security-context-readonlyrootfilesystem'],
      polaris: ['notReadOnlyRootFilesystem'],
      kubeLinter: ['no-read-only-root-fs'],
    },
    check: perContainer((c) =>
      c.securityContext?.readOnlyRootFilesystem === true ? null : `container ${c.name}: root filesystem is writable`,
    ),
  },
  {
    id: 'drop-capabilities',
    description: 'all Linux capabilities are dropped and none added',
    mirrors: { polaris: ['insecureCapabilities', 'dangerousCapabilities'], kubeLinter: ['drop-net-raw-capability'] },
    check: perContainer((c) => {
      const caps = c.securityContext?.capabilities ?? {};
      if ((caps.add ?? []).length > 0) return `container ${c.name}: adds capabilities ${caps.add.join(', ')}`;
      return (caps.drop ?? []).includes('ALL') ? null : `container ${c.name}: does not drop ALL capabilities`;
    }),
  },
  {
    id: 'seccomp',
    description: 'a seccomp profile (RuntimeDefault) is set',
    mirrors: { kubeScore: ['container-seccomp-profile'] },
    check: perContainer((c, pod) => {
      const profile = (effective(c, pod, 'seccompProfile') as { type?: string } | undefined)?.type;
      return profile === 'RuntimeDefault' || profile === 'Localhost' ? null : `container ${c.name}: no seccomp profile`;
    }),
  },
  {
    id: 'probes',
    description: 'serving containers have readiness and liveness probes',
    mirrors: {
      kubeScore: ['pod-probes'],
      polaris: ['readinessProbeMissing', 'livenessProbeMissing'],
      kubeLinter: ['no-readiness-probe', 'no-liveness-probe'],
    },
    check: (object) =>
      podsOf(object)
        .filter((pod) => pod.serving)
        .flatMap((pod) => mainContainers(pod))
        .flatMap((c) => {
          const missing = ['readinessProbe', 'livenessProbe'].filter((p) => !c[p]);
          return missing.length > 0 ? [`container ${c.name}: no ${missing.join(' or ')}`] : [];
        }),
  },
  {
    id: 'probes-identical',
    description: 'readiness and liveness probes differ (a busy server is taken out of rotation, not restarted)',
    mirrors: { kubeScore: ['pod-probes-identical'] },
    check: (object) =>
      podsOf(object)
        .flatMap((pod) => mainContainers(pod))
        .filter(
          (c) =>
            c.readinessProbe && c.livenessProbe && JSON.stringify(c.readinessProbe) === JSON.stringify(c.livenessProbe),
        )
        .map((c) => `container ${c.name}: readiness and liveness probes are identical`),
  },
  {
    id: 'secret-in-env',
    description: 'secrets come from Secret references, never literal environment values',
    mirrors: { polaris: ['sensitiveContainerEnvVar'], kubeLinter: ['env-var-secret'] },
    check: perContainer((c) => {
      const bad = (c.env ?? []).filter(
        (e: Any) => SECRET_ENV.test(String(e.name)) && typeof e.value === 'string' && e.value !== '',
      );
      return bad.length === 0
        ? null
        : `container ${c.name}: ${bad.map((e: Any) => e.name).join(', ')} set from a literal value (use valueFrom.secretKeyRef)`;
    }),
  },
  {
    id: 'automount-service-account-token',
    description: 'the API token is not mounted into pods that do not call the API',
    mirrors: { polaris: ['automountServiceAccountToken'] },
    check: (object) =>
      podsOf(object)
        .filter((pod) => pod.spec.automountServiceAccountToken !== false)
        .map(() => 'pod mounts a service account token (set automountServiceAccountToken: false)'),
  },
  {
    id: 'default-service-account',
    description: 'pods run under their own service account',
    mirrors: { kubeLinter: ['default-service-account'] },
    check: (object) =>
      podsOf(object)
        .filter((pod) => !pod.spec.serviceAccountName || pod.spec.serviceAccountName === 'default')
        .map(() => 'pod uses the default service account'),
  },
  {
    id: 'host-namespaces',
    description: 'no host network, PID or IPC namespace',
    mirrors: {
      polaris: ['hostNetworkSet', 'hostPIDSet', 'hostIPCSet'],
      kubeLinter: ['host-network', 'host-pid', 'host-ipc'],
    },
    check: (object) =>
      podsOf(object).flatMap((pod) =>
        ['hostNetwork', 'hostPID', 'hostIPC'].filter((key) => pod.spec[key] === true).map((key) => `pod sets ${key}`),
      ),
  },
  {
    id: 'gpu-toleration',
    description: 'GPU pods tolerate the nvidia.com/gpu taint of GPU nodes',
    mirrors: {},
    check: (object) =>
      podsOf(object)
        .filter(podUsesGpu)
        .filter(
          (pod) =>
            !(pod.spec.tolerations ?? []).some(
              (t: Any) => t.key === 'nvidia.com/gpu' || (t.operator === 'Exists' && !t.key),
            ),
        )
        .map(() => 'pod requests a GPU but does not tolerate the nvidia.com/gpu taint'),
  },
  {
    id: 'gpu-node-selector',
    description: 'GPU pods select the accelerator type they were sized for',
    mirrors: {},
    check: (object) =>
      podsOf(object)
        .filter(podUsesGpu)
        .filter((pod) => Object.keys(pod.spec.nodeSelector ?? {}).length === 0 && !pod.spec.affinity?.nodeAffinity)
        .map(() => 'pod requests a GPU but selects no accelerator type (nodeSelector or node affinity)'),
  },
  {
    id: 'gpu-startup-probe',
    description: 'GPU servers have a startup probe, so liveness does not kill a model still loading',
    mirrors: {},
    check: (object) =>
      podsOf(object)
        .filter((pod) => pod.serving)
        .flatMap((pod) => mainContainers(pod))
        .filter((c) => requestsGpu(c) && !c.startupProbe)
        .map((c) => `container ${c.name}: requests a GPU but has no startupProbe`),
  },
  {
    id: 'gpu-rolling-update',
    description: 'rolling updates of GPU workloads surge by at most one pod (GPUs are scarce) and never stall',
    mirrors: { kubeLinter: ['no-rolling-update-strategy'] },
    check: (object) => {
      if (object.kind !== 'Deployment') return [];
      const spec = (object as Any).spec ?? {};
      const pods = podsOf(object);
      if (!pods.some(podUsesGpu)) return [];
      if (spec.strategy?.type === 'Recreate') return [];
      const ru = spec.strategy?.rollingUpdate;
      if (!ru)
        return [
          'GPU Deployment uses the default rolling update (25% surge): set strategy.rollingUpdate.maxSurge ≤ 1 and an explicit maxUnavailable',
        ];
      const out: string[] = [];
      if (typeof ru.maxSurge !== 'number' || ru.maxSurge > 1)
        out.push(`GPU Deployment surges by ${String(ru.maxSurge)}: use maxSurge 0 or 1`);
      if (ru.maxUnavailable === undefined) out.push('GPU Deployment leaves maxUnavailable implicit (25%)');
      if (ru.maxSurge === 0 && (ru.maxUnavailable === 0 || ru.maxUnavailable === '0%'))
        out.push('maxSurge and maxUnavailable are both 0: the rollout cannot progress');
      return out;
    },
  },
  {
    id: 'termination-grace',
    description: 'terminationGracePeriodSeconds covers the preStop sleep and leaves time to drain streams',
    mirrors: {},
    check: (object) =>
      podsOf(object).flatMap((pod) => {
        const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
        return mainContainers(pod)
          .filter(
            (c) =>
              typeof c.lifecycle?.preStop?.sleep?.seconds === 'number' && c.lifecycle.preStop.sleep.seconds >= grace,
          )
          .map(
            (c) =>
              `container ${c.name}: preStop sleep ${c.lifecycle.preStop.sleep.seconds} s uses the whole grace period of ${grace} s (nothing left to drain)`,
          );
      }),
  },
  {
    id: 'pod-disruption-budget',
    description: 'Deployments and StatefulSets have a PodDisruptionBudget',
    mirrors: {
      kubeScore: ['deployment-has-poddisruptionbudget', 'statefulset-has-poddisruptionbudget'],
      polaris: ['missingPodDisruptionBudget'],
    },
    check: (object, { all }) => {
      if (!isWorkload(object)) return [];
      const labels = templateLabels(object);
      const covered = all.some(
        (p) =>
          p.kind === 'PodDisruptionBudget' &&
          sameNamespace(p, object) &&
          matches((p as Any).spec?.selector?.matchLabels, labels),
      );
      return covered ? [] : ['no PodDisruptionBudget selects its pods'];
    },
  },
  {
    id: 'pdb-allows-eviction',
    description: 'a PodDisruptionBudget lets at least one pod be evicted (or node drains hang)',
    mirrors: {
      kubeScore: ['poddisruptionbudget-has-policy'],
      polaris: ['pdbDisruptionsIsZero'],
      kubeLinter: ['pdb-max-unavailable'],
    },
    check: (object) => {
      if (object.kind !== 'PodDisruptionBudget') return [];
      const spec = (object as Any).spec ?? {};
      if (spec.maxUnavailable === undefined && spec.minAvailable === undefined)
        return ['sets neither maxUnavailable nor minAvailable'];
      if (spec.maxUnavailable === 0 || spec.maxUnavailable === '0%' || spec.minAvailable === '100%')
        return ['allows no disruption: node drains will hang'];
      return [];
    },
  },
  {
    id: 'anti-affinity',
    description: 'replicas spread across nodes (pod anti-affinity or topology spread)',
    mirrors: {
      kubeScore: ['deployment-has-host-podantiaffinity', 'statefulset-has-host-podantiaffinity'],
      polaris: ['topologySpreadConstraint'],
      kubeLinter: ['no-anti-affinity'],
    },
    check: (object) => {
      if (!isWorkload(object)) return [];
      const spec = (object as Any).spec?.template?.spec ?? {};
      const anti = spec.affinity?.podAntiAffinity;
      const hasAnti =
        [
          ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []),
          ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ].length > 0;
      return hasAnti || (spec.topologySpreadConstraints ?? []).length > 0
        ? []
        : ['pods may all land on one node (no pod anti-affinity or topology spread)'];
    },
  },
  {
    id: 'network-policy',
    description: 'pods are selected by a NetworkPolicy with ingress and egress rules',
    mirrors: { kubeScore: ['pod-networkpolicy'], polaris: ['missingNetworkPolicy'] },
    check: (object, { all }) => {
      if (!isWorkload(object)) return [];
      const labels = templateLabels(object);
      const policies = all.filter((p) => p.kind === 'NetworkPolicy' && sameNamespace(p, object));
      const selecting = policies.filter((p) => {
        const selector = (p as Any).spec?.podSelector?.matchLabels;
        return selector === undefined || Object.keys(selector).length === 0 || matches(selector, labels);
      });
      const types = new Set(selecting.flatMap((p) => (p as Any).spec?.policyTypes ?? ['Ingress']));
      const missing = ['Ingress', 'Egress'].filter((t) => !types.has(t));
      return missing.length === 0 ? [] : [`no NetworkPolicy restricts its ${missing.join(' and ').toLowerCase()}`];
    },
  },
  {
    id: 'replicas-with-autoscaler',
    description: 'a Deployment owned by an autoscaler leaves spec.replicas unset (each apply would reset the scale)',
    mirrors: { kubeScore: ['deployment-replicas'] },
    check: (object, { all }) =>
      isWorkload(object) && (object as Any).spec?.replicas !== undefined && autoscalersOf(object, all).length > 0
        ? ['sets spec.replicas although an autoscaler owns the replica count']
        : [],
  },
  {
    id: 'service-targets-pod',
    description: 'a Service selects the pods of some workload',
    mirrors: { kubeScore: ['service-targets-pod'], kubeLinter: ['dangling-service'] },
    check: (object, { all }) => {
      if (object.kind !== 'Service') return [];
      const selector = (object as Any).spec?.selector;
      if (!selector || (object as Any).spec?.type === 'ExternalName') return [];
      const workloads = all.filter((w) => WORKLOAD_KINDS.has(String(w.kind)) && sameNamespace(w, object));
      if (workloads.length === 0) return [];
      return workloads.some((w) => matches(selector, templateLabels(w)))
        ? []
        : ['selects no pods of the workloads given'];
    },
  },
  {
    id: 'autoscaler-target',
    description: 'an autoscaler targets a workload that exists',
    mirrors: { kubeScore: ['horizontalpodautoscaler-has-target'] },
    check: (object, { all }) => {
      if (object.kind !== 'HorizontalPodAutoscaler' && object.kind !== 'ScaledObject') return [];
      const ref = (object as Any).spec?.scaleTargetRef ?? {};
      const kind = ref.kind ?? 'Deployment';
      const candidates = all.filter((w) => WORKLOAD_KINDS.has(String(w.kind)) && sameNamespace(w, object));
      if (candidates.length === 0) return [];
      return candidates.some((w) => w.kind === kind && w.metadata?.name === ref.name)
        ? []
        : [`targets ${kind}/${String(ref.name)}, which is not among the objects`];
    },
  },
  {
    id: 'autoscaler-min-replicas',
    description: 'a ScaledObject sets minReplicaCount explicitly (KEDA defaults to 0)',
    mirrors: {},
    check: (object) =>
      object.kind === 'ScaledObject' && (object as Any).spec?.minReplicaCount === undefined
        ? ['minReplicaCount is unset: KEDA would scale to zero']
        : [],
  },
  {
    id: 'scale-down-window',
    description: `scale-down stabilization is at least ${MIN_SCALE_DOWN_WINDOW_SECONDS} s and at least a pod's start budget`,
    mirrors: {},
    check: (object, { all }) => {
      if (object.kind !== 'HorizontalPodAutoscaler' && object.kind !== 'ScaledObject') return [];
      const window = behaviorOf(object)?.scaleDown?.stabilizationWindowSeconds;
      if (typeof window !== 'number')
        return [`no scale-down stabilization window (the HPA default is 300 s, shorter than a GPU pod's start)`];
      const out: string[] = [];
      if (window < MIN_SCALE_DOWN_WINDOW_SECONDS)
        out.push(`scale-down stabilization ${window} s is under ${MIN_SCALE_DOWN_WINDOW_SECONDS} s`);
      const ref = (object as Any).spec?.scaleTargetRef ?? {};
      const target = all.find(
        (w) => w.kind === (ref.kind ?? 'Deployment') && w.metadata?.name === ref.name && sameNamespace(w, object),
      );
      const budget = target ? startupBudgetSeconds(target) : null;
      if (budget !== null && window < budget)
        out.push(`scale-down stabilization ${window} s is shorter than the target's start budget of ${budget} s`);
      return out;
    },
  },
  {
    id: 'resource-metric-for-gpu',
    description: 'GPU workloads do not autoscale on CPU or memory (they do not track GPU load)',
    mirrors: {},
    check: (object, { all }) => {
      if (object.kind !== 'HorizontalPodAutoscaler' && object.kind !== 'ScaledObject') return [];
      const ref = (object as Any).spec?.scaleTargetRef ?? {};
      const target = all.find(
        (w) => w.kind === (ref.kind ?? 'Deployment') && w.metadata?.name === ref.name && sameNamespace(w, object),
      );
      if (!target || !podsOf(target).some(podUsesGpu)) return [];
      const spec = (object as Any).spec ?? {};
      const resourceMetric =
        object.kind === 'ScaledObject'
          ? (spec.triggers ?? []).some((t: Any) => t.type === 'cpu' || t.type === 'memory')
          : (spec.metrics ?? []).some((m: Any) => m.type === 'Resource' || m.type === 'ContainerResource');
      return resourceMetric
        ? ['scales a GPU workload on CPU or memory: use queue depth, GPU utilization or KV-cache usage']
        : [];
    },
  },
];
