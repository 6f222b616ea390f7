/**
 * Lint rules for Kubernetes manifests serving models. Each rule names the kube-score, Polaris and kube-linter checks it
 * mirrors, so those tools' suppression annotations apply to it; rules without a mirror are GPU-serving specific.
 */

import { isPinnedImage } from '../../k8s/image.js';
import { at, fieldsAt, listAt, numberAt, objectsAt, shown, type Fields } from './fields.js';

/** One Kubernetes object as parsed from YAML or JSON: its fields are read through `fields.ts`, which narrows each. */
export type Manifest = Fields;

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

interface PodLike {
  spec: Fields;
  templateAnnotations: Fields;
  /** Long-running server (probes expected), not a batch job. */
  serving: boolean;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

/** The pod in a pod template (`{ metadata, spec }`), if it has a spec. */
function podOfTemplate(template: unknown, serving: boolean): PodLike[] {
  const spec = fieldsAt(template, 'spec');
  return spec ? [{ spec, templateAnnotations: fieldsAt(template, 'metadata', 'annotations') ?? {}, serving }] : [];
}

/** The pod specs inside an object: workloads, jobs, pods, and the component specs of a SeldonDeployment. */
export function podsOf(object: Manifest): PodLike[] {
  const kind = String(object.kind);
  if (WORKLOAD_KINDS.has(kind)) return podOfTemplate(at(object, 'spec', 'template'), true);
  if (kind === 'Job') return podOfTemplate(at(object, 'spec', 'template'), false);
  if (kind === 'CronJob') return podOfTemplate(at(object, 'spec', 'jobTemplate', 'spec', 'template'), false);
  if (kind === 'Pod') {
    const spec = fieldsAt(object, 'spec');
    return spec ? [{ spec, templateAnnotations: {}, serving: true }] : [];
  }
  if (kind === 'SeldonDeployment') {
    // The Seldon operator adds its own probes and wraps the containers: probe rules do not apply.
    return objectsAt(object, 'spec', 'predictors').flatMap((p) =>
      objectsAt(p, 'componentSpecs').map((c) => ({
        spec: fieldsAt(c, 'spec') ?? {},
        templateAnnotations: {},
        serving: false,
      })),
    );
  }
  return [];
}

function containersOf(pod: PodLike): Fields[] {
  return [...objectsAt(pod.spec, 'initContainers'), ...objectsAt(pod.spec, 'containers')];
}

function mainContainers(pod: PodLike): Fields[] {
  return objectsAt(pod.spec, 'containers');
}

/** A rule over every container of every pod in the object. */
function perContainer(fn: (container: Fields, pod: PodLike) => string | null): Rule['check'] {
  return (object) => podsOf(object).flatMap((pod) => containersOf(pod).flatMap((c) => fn(c, pod) ?? []));
}

/** `container <name>`, the subject of a per-container message. */
function named(container: Fields): string {
  return `container ${shown(container.name)}`;
}

function effective(container: Fields, pod: PodLike, key: string): unknown {
  return at(container, 'securityContext', key) ?? at(pod.spec, 'securityContext', key);
}

function requestsGpu(container: Fields): boolean {
  const limits = fieldsAt(container, 'resources', 'limits');
  const requests = fieldsAt(container, 'resources', 'requests');
  return Object.keys({ ...limits, ...requests }).some((key) => /^(nvidia\.com|amd\.com)\/gpu$/.test(key));
}

function podUsesGpu(pod: PodLike): boolean {
  return containersOf(pod).some(requestsGpu);
}

function matches(selector: Fields | undefined, labels: Fields | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function nameOf(object: Manifest): unknown {
  return at(object, 'metadata', 'name');
}

function sameNamespace(a: Manifest, b: Manifest): boolean {
  return (at(a, 'metadata', 'namespace') ?? '') === (at(b, 'metadata', 'namespace') ?? '');
}

function templateLabels(object: Manifest): Fields | undefined {
  return fieldsAt(object, 'spec', 'template', 'metadata', 'labels');
}

function isWorkload(object: Manifest): boolean {
  return WORKLOAD_KINDS.has(String(object.kind)) && String(object.kind) !== 'DaemonSet';
}

function isAutoscaler(object: Manifest): boolean {
  return object.kind === 'HorizontalPodAutoscaler' || object.kind === 'ScaledObject';
}

/** The kind and name an autoscaler's scaleTargetRef names (the kind defaults to Deployment, as in the HPA API). */
function scaleTargetOf(autoscaler: Manifest): { kind: unknown; name: unknown } | undefined {
  const ref = fieldsAt(autoscaler, 'spec', 'scaleTargetRef');
  return ref ? { kind: ref.kind ?? 'Deployment', name: ref.name } : undefined;
}

/** The object among `all` that an autoscaler scales. */
function targetOf(autoscaler: Manifest, all: readonly Manifest[]): Manifest | undefined {
  const ref = scaleTargetOf(autoscaler) ?? { kind: 'Deployment', name: undefined };
  return all.find((w) => w.kind === ref.kind && nameOf(w) === ref.name && sameNamespace(w, autoscaler));
}

/** Autoscalers (HPA or ScaledObject) targeting this object. */
function autoscalersOf(object: Manifest, all: readonly Manifest[]): Manifest[] {
  return all.filter((a) => {
    if (!sameNamespace(a, object) || !isAutoscaler(a)) return false;
    const ref = scaleTargetOf(a);
    return ref !== undefined && ref.kind === object.kind && ref.name === nameOf(object);
  });
}

function scaleDownWindowOf(autoscaler: Manifest): number | undefined {
  const behavior =
    autoscaler.kind === 'ScaledObject'
      ? at(autoscaler, 'spec', 'advanced', 'horizontalPodAutoscalerConfig', 'behavior')
      : at(autoscaler, 'spec', 'behavior');
  return numberAt(behavior, 'scaleDown', 'stabilizationWindowSeconds');
}

function startupBudgetSeconds(object: Manifest): number | null {
  const budgets = objectsAt(object, 'spec', 'template', 'spec', 'containers').flatMap((c) => {
    const probe = fieldsAt(c, 'startupProbe');
    if (!probe) return [];
    const period = numberAt(probe, 'periodSeconds') ?? 10;
    return [period * (numberAt(probe, 'failureThreshold') ?? 3) + (numberAt(probe, 'initialDelaySeconds') ?? 0)];
  });
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
        : `${named(c)}: image \`${shown(c.image)}\` is not pinned (use a version tag or a digest)`,
    ),
  },
  {
    id: 'image-pull-policy',
    description: 'imagePullPolicy is Always, so a moved tag cannot serve stale bits on some nodes',
    mirrors: { kubeScore: ['container-image-pull-policy'], polaris: ['pullPolicyNotAlways'] },
    check: perContainer((c) =>
      c.imagePullPolicy === 'Always' || /@sha256:/.test(String(c.image))
        ? null
        : `${named(c)}: imagePullPolicy is ${shown(c.imagePullPolicy ?? 'unset')}, not Always`,
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
        return at(c, 'resources', kind, name) === undefined;
      });
      return missing.length === 0 ? null : `${named(c)}: no ${missing.join(', ')}`;
    }),
  },
  {
    id: 'ephemeral-storage',
    description: 'ephemeral-storage request and limit are set (a filling cache must not evict its neighbours)',
    mirrors: { kubeScore: ['container-ephemeral-storage-request-and-limit'] },
    check: perContainer((c) =>
      at(c, 'resources', 'requests', 'ephemeral-storage') !== undefined &&
      at(c, 'resources', 'limits', 'ephemeral-storage') !== undefined
        ? null
        : `${named(c)}: no ephemeral-storage request and limit`,
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
        : `${named(c)}: may run as root (set runAsNonRoot: true)`;
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
        : `${named(c)}: runAsUser and runAsGroup should be above 10000 (got ${shown(user)}/${shown(group)})`;
    }),
  },
  {
    id: 'privilege-escalation',
    description: 'allowPrivilegeEscalation is false',
    mirrors: { polaris: ['privilegeEscalationAllowed'], kubeLinter: ['privilege-escalation-container'] },
    check: perContainer((c) =>
      at(c, 'securityContext', 'allowPrivilegeEscalation') === false
        ? null
        : `${named(c)}: allowPrivilegeEscalation is not false`,
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
      at(c, 'securityContext', 'privileged') === true ? `${named(c)}: runs privileged` : null,
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
      at(c, 'securityContext', 'readOnlyRootFilesystem') === true ? null : `${named(c)}: root filesystem is writable`,
    ),
  },
  {
    id: 'drop-capabilities',
    description: 'all Linux capabilities are dropped and none added',
    mirrors: { polaris: ['insecureCapabilities', 'dangerousCapabilities'], kubeLinter: ['drop-net-raw-capability'] },
    check: perContainer((c) => {
      const added = listAt(c, 'securityContext', 'capabilities', 'add');
      if (added.length > 0) return `${named(c)}: adds capabilities ${added.join(', ')}`;
      return listAt(c, 'securityContext', 'capabilities', 'drop').includes('ALL')
        ? null
        : `${named(c)}: does not drop ALL capabilities`;
    }),
  },
  {
    id: 'seccomp',
    description: 'a seccomp profile (RuntimeDefault) is set',
    mirrors: { kubeScore: ['container-seccomp-profile'] },
    check: perContainer((c, pod) => {
      const profile = at(effective(c, pod, 'seccompProfile'), 'type');
      return profile === 'RuntimeDefault' || profile === 'Localhost' ? null : `${named(c)}: no seccomp profile`;
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
          return missing.length > 0 ? [`${named(c)}: no ${missing.join(' or ')}`] : [];
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
        .map((c) => `${named(c)}: readiness and liveness probes are identical`),
  },
  {
    id: 'secret-in-env',
    description: 'secrets come from Secret references, never literal environment values',
    mirrors: { polaris: ['sensitiveContainerEnvVar'], kubeLinter: ['env-var-secret'] },
    check: perContainer((c) => {
      const bad = objectsAt(c, 'env').filter(
        (e) => SECRET_ENV.test(String(e.name)) && typeof e.value === 'string' && e.value !== '',
      );
      return bad.length === 0
        ? null
        : `${named(c)}: ${bad.map((e) => shown(e.name)).join(', ')} set from a literal value (use valueFrom.secretKeyRef)`;
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
            !objectsAt(pod.spec, 'tolerations').some(
              (t) => t.key === 'nvidia.com/gpu' || (t.operator === 'Exists' && !t.key),
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
        .filter(
          (pod) =>
            Object.keys(fieldsAt(pod.spec, 'nodeSelector') ?? {}).length === 0 &&
            !at(pod.spec, 'affinity', 'nodeAffinity'),
        )
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
        .map((c) => `${named(c)}: requests a GPU but has no startupProbe`),
  },
  {
    id: 'gpu-rolling-update',
    description: 'rolling updates of GPU workloads surge by at most one pod (GPUs are scarce) and never stall',
    mirrors: { kubeLinter: ['no-rolling-update-strategy'] },
    check: (object) => {
      if (object.kind !== 'Deployment') return [];
      if (!podsOf(object).some(podUsesGpu)) return [];
      if (at(object, 'spec', 'strategy', 'type') === 'Recreate') return [];
      const ru = fieldsAt(object, 'spec', 'strategy', 'rollingUpdate');
      if (!ru)
        return [
          'GPU Deployment uses the default rolling update (25% surge): set strategy.rollingUpdate.maxSurge ≤ 1 and an explicit maxUnavailable',
        ];
      const out: string[] = [];
      if (typeof ru.maxSurge !== 'number' || ru.maxSurge > 1)
        out.push(`GPU Deployment surges by ${shown(ru.maxSurge)}: use maxSurge 0 or 1`);
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
        const grace = numberAt(pod.spec, 'terminationGracePeriodSeconds') ?? 30;
        return mainContainers(pod).flatMap((c) => {
          const sleep = numberAt(c, 'lifecycle', 'preStop', 'sleep', 'seconds');
          return sleep !== undefined && sleep >= grace
            ? [
                `${named(c)}: preStop sleep ${sleep} s uses the whole grace period of ${grace} s (nothing left to drain)`,
              ]
            : [];
        });
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
          matches(fieldsAt(p, 'spec', 'selector', 'matchLabels'), labels),
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
      const maxUnavailable = at(object, 'spec', 'maxUnavailable');
      const minAvailable = at(object, 'spec', 'minAvailable');
      if (maxUnavailable === undefined && minAvailable === undefined)
        return ['sets neither maxUnavailable nor minAvailable'];
      if (maxUnavailable === 0 || maxUnavailable === '0%' || minAvailable === '100%')
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
      const spec = fieldsAt(object, 'spec', 'template', 'spec');
      const anti = fieldsAt(spec, 'affinity', 'podAntiAffinity');
      const hasAnti =
        listAt(anti, 'preferredDuringSchedulingIgnoredDuringExecution').length > 0 ||
        listAt(anti, 'requiredDuringSchedulingIgnoredDuringExecution').length > 0;
      return hasAnti || listAt(spec, 'topologySpreadConstraints').length > 0
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
        const selector = fieldsAt(p, 'spec', 'podSelector', 'matchLabels');
        return selector === undefined || Object.keys(selector).length === 0 || matches(selector, labels);
      });
      const types = new Set(selecting.flatMap((p) => at(p, 'spec', 'policyTypes') ?? ['Ingress']));
      const missing = ['Ingress', 'Egress'].filter((t) => !types.has(t));
      return missing.length === 0 ? [] : [`no NetworkPolicy restricts its ${missing.join(' and ').toLowerCase()}`];
    },
  },
  {
    id: 'replicas-with-autoscaler',
    description: 'a Deployment owned by an autoscaler leaves spec.replicas unset (each apply would reset the scale)',
    mirrors: { kubeScore: ['deployment-replicas'] },
    check: (object, { all }) =>
      isWorkload(object) && at(object, 'spec', 'replicas') !== undefined && autoscalersOf(object, all).length > 0
        ? ['sets spec.replicas although an autoscaler owns the replica count']
        : [],
  },
  {
    id: 'service-targets-pod',
    description: 'a Service selects the pods of some workload',
    mirrors: { kubeScore: ['service-targets-pod'], kubeLinter: ['dangling-service'] },
    check: (object, { all }) => {
      if (object.kind !== 'Service') return [];
      const selector = fieldsAt(object, 'spec', 'selector');
      if (!selector || at(object, 'spec', 'type') === 'ExternalName') return [];
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
      if (!isAutoscaler(object)) return [];
      const { kind, name } = scaleTargetOf(object) ?? { kind: 'Deployment', name: undefined };
      const candidates = all.filter((w) => WORKLOAD_KINDS.has(String(w.kind)) && sameNamespace(w, object));
      if (candidates.length === 0) return [];
      return candidates.some((w) => w.kind === kind && nameOf(w) === name)
        ? []
        : [`targets ${shown(kind)}/${shown(name)}, which is not among the objects`];
    },
  },
  {
    id: 'autoscaler-min-replicas',
    description: 'a ScaledObject sets minReplicaCount explicitly (KEDA defaults to 0)',
    mirrors: {},
    check: (object) =>
      object.kind === 'ScaledObject' && at(object, 'spec', 'minReplicaCount') === undefined
        ? ['minReplicaCount is unset: KEDA would scale to zero']
        : [],
  },
  {
    id: 'scale-down-window',
    description: `scale-down stabilization is at least ${MIN_SCALE_DOWN_WINDOW_SECONDS} s and at least a pod's start budget`,
    mirrors: {},
    check: (object, { all }) => {
      if (!isAutoscaler(object)) return [];
      const window = scaleDownWindowOf(object);
      if (window === undefined)
        return [`no scale-down stabilization window (the HPA default is 300 s, shorter than a GPU pod's start)`];
      const out: string[] = [];
      if (window < MIN_SCALE_DOWN_WINDOW_SECONDS)
        out.push(`scale-down stabilization ${window} s is under ${MIN_SCALE_DOWN_WINDOW_SECONDS} s`);
      const target = targetOf(object, all);
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
      if (!isAutoscaler(object)) return [];
      const target = targetOf(object, all);
      if (!target || !podsOf(target).some(podUsesGpu)) return [];
      const resourceMetric =
        object.kind === 'ScaledObject'
          ? objectsAt(object, 'spec', 'triggers').some((t) => t.type === 'cpu' || t.type === 'memory')
          : objectsAt(object, 'spec', 'metrics').some((m) => m.type === 'Resource' || m.type === 'ContainerResource');
      return resourceMetric
        ? ['scales a GPU workload on CPU or memory: use queue depth, GPU utilization or KV-cache usage']
        : [];
    },
  },
];
