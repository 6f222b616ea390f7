/**
 * Typed Kubernetes objects: the subset of the Kubernetes 1.30, KEDA, Prometheus Operator and Seldon Core v1 APIs that
 * llmops emits. Field names follow the upstream OpenAPI definitions so the compiler catches misspellings, and the
 * strict schema validator (./validate) catches what types cannot (required fields, closed objects, formats).
 */

export type Labels = Record<string, string>;
export type Quantity = string;
export type IntOrString = number | string;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface ResourceRequirements {
  requests?: Record<string, Quantity>;
  limits?: Record<string, Quantity>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string; optional?: boolean } };
}

export interface Probe {
  httpGet?: { path: string; port: IntOrString; scheme?: 'HTTP' | 'HTTPS' };
  tcpSocket?: { port: IntOrString };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

export interface SecurityContext {
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  seccompProfile?: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined' };
}

export interface PodSecurityContext {
  fsGroup?: number;
  fsGroupChangePolicy?: 'OnRootMismatch' | 'Always';
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  seccompProfile?: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined' };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
  resources?: ResourceRequirements;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  securityContext?: SecurityContext;
  volumeMounts?: VolumeMount[];
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: 'Memory' | ''; sizeLimit?: Quantity };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  csi?: { driver: string; readOnly?: boolean; volumeAttributes?: Record<string, string> };
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface WeightedPodAffinityTerm {
  weight: number;
  podAffinityTerm: { labelSelector: LabelSelector; topologyKey: string };
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector: LabelSelector;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  securityContext?: PodSecurityContext;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Labels;
  tolerations?: Toleration[];
  affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution: WeightedPodAffinityTerm[] } };
  topologySpreadConstraints?: TopologySpreadConstraint[];
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
}

export interface PodTemplateSpec {
  metadata: { labels: Labels; annotations?: Labels };
  spec: PodSpec;
}

export interface Deployment extends KubeObject {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  spec: {
    replicas?: number;
    selector: LabelSelector;
    strategy: { type: 'RollingUpdate'; rollingUpdate: { maxSurge: IntOrString; maxUnavailable: IntOrString } };
    revisionHistoryLimit?: number;
    progressDeadlineSeconds?: number;
    template: PodTemplateSpec;
  };
}

export interface Service extends KubeObject {
  apiVersion: 'v1';
  kind: 'Service';
  spec: {
    type: 'ClusterIP';
    selector: Labels;
    ports: { name: string; port: number; targetPort: IntOrString; protocol: 'TCP' }[];
  };
}

export interface ServiceAccount extends KubeObject {
  apiVersion: 'v1';
  kind: 'ServiceAccount';
  automountServiceAccountToken: boolean;
}

export interface PodDisruptionBudget extends KubeObject {
  apiVersion: 'policy/v1';
  kind: 'PodDisruptionBudget';
  spec: { maxUnavailable: IntOrString; selector: LabelSelector };
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicy extends KubeObject {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  spec: {
    podSelector: LabelSelector;
    policyTypes: ('Ingress' | 'Egress')[];
    ingress: { from: NetworkPolicyPeer[]; ports: { port: IntOrString; protocol: 'TCP' | 'UDP' }[] }[];
    egress: { to?: NetworkPolicyPeer[]; ports: { port: IntOrString; protocol: 'TCP' | 'UDP' }[] }[];
  };
}

export interface PersistentVolumeClaim extends KubeObject {
  apiVersion: 'v1';
  kind: 'PersistentVolumeClaim';
  spec: {
    accessModes: ('ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod')[];
    dataSourceRef?: { apiGroup?: string; kind: string; name: string };
    resources: { requests: { storage: Quantity } };
    storageClassName?: string;
    volumeMode: 'Filesystem';
  };
}

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingBehavior {
  scaleUp: { stabilizationWindowSeconds: number; selectPolicy: 'Max' | 'Min'; policies: ScalingPolicy[] };
  scaleDown: { stabilizationWindowSeconds: number; selectPolicy: 'Max' | 'Min'; policies: ScalingPolicy[] };
}

export interface HorizontalPodAutoscaler extends KubeObject {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: {
      type: 'External';
      external: {
        metric: { name: string; selector?: LabelSelector };
        target: { type: 'AverageValue'; averageValue: Quantity } | { type: 'Value'; value: Quantity };
      };
    }[];
    behavior: ScalingBehavior;
  };
}

export interface ScaledObject extends KubeObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    pollingInterval: number;
    cooldownPeriod?: number;
    fallback?: {
      failureThreshold: number;
      replicas: number;
      behavior: 'static' | 'currentReplicas' | 'currentReplicasIfHigher' | 'currentReplicasIfLower';
    };
    advanced: { horizontalPodAutoscalerConfig: { behavior: ScalingBehavior } };
    triggers: {
      type: 'prometheus' | 'external-push';
      name?: string;
      metricType?: 'AverageValue' | 'Value';
      metadata: Record<string, string>;
    }[];
  };
}

/** KEDA HTTP add-on (http.keda.sh/v1alpha1, v0.15.0): requests through its interceptor wake a service at zero. */
export interface HTTPScaledObject extends KubeObject {
  apiVersion: 'http.keda.sh/v1alpha1';
  kind: 'HTTPScaledObject';
  spec: {
    hosts: string[];
    pathPrefixes?: string[];
    scaleTargetRef: { apiVersion: string; kind: string; name: string; service: string; port: number };
    replicas: { min: number; max: number };
    scalingMetric: { concurrency: { targetValue: number } };
    scaledownPeriod: number;
    timeouts: { conditionWait: string; responseHeader: string };
  };
}

export interface ServiceMonitor extends KubeObject {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  spec: {
    selector: LabelSelector;
    namespaceSelector: { matchNames: string[] };
    endpoints: { port: string; path: string; interval: string; scheme: 'http' }[];
  };
}

export interface Job extends KubeObject {
  apiVersion: 'batch/v1';
  kind: 'Job';
  spec: {
    backoffLimit: number;
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    template: PodTemplateSpec;
  };
}

export interface SeldonGraphNode {
  name: string;
  type: string;
  endpoint: { type: 'REST' | 'GRPC' };
  children: SeldonGraphNode[];
}

export interface SeldonDeployment extends KubeObject {
  apiVersion: 'machinelearning.seldon.io/v1';
  kind: 'SeldonDeployment';
  spec: {
    name: string;
    predictors: {
      name: string;
      replicas?: number;
      graph: SeldonGraphNode;
      componentSpecs: SeldonComponentSpec[];
    }[];
  };
}

/** One component of a Seldon v1 predictor: the operator makes a Deployment of it, and an HPA, ScaledObject and PDB from these. */
export interface SeldonComponentSpec {
  spec: PodSpec;
  replicas?: number;
  /** The operator's HPA: autoscaling/v2 metrics, but no `behavior`. */
  hpaSpec?: {
    minReplicas: number;
    maxReplicas: number;
    metricsv2: HorizontalPodAutoscaler['spec']['metrics'];
  };
  /** The operator's KEDA ScaledObject (scaleTargetRef filled in by the operator). */
  kedaSpec?: Omit<ScaledObject['spec'], 'scaleTargetRef'>;
  pdbSpec?: { maxUnavailable: IntOrString };
}

/** A KServe InferenceService with a custom predictor container (serving.kserve.io/v1beta1). */
export interface InferenceService extends KubeObject {
  apiVersion: 'serving.kserve.io/v1beta1';
  kind: 'InferenceService';
  spec: {
    predictor: Omit<PodSpec, 'restartPolicy' | 'initContainers'> & {
      minReplicas: number;
      maxReplicas: number;
      autoScaling?: {
        metrics: {
          type: 'External';
          external: {
            metric: { backend: 'prometheus'; serverAddress: string; query: string };
            target: { type: 'Value'; value: Quantity };
          };
        }[];
        behavior: ScalingBehavior;
      };
    };
  };
}

export interface InferenceGraphStep {
  name: string;
  serviceName?: string;
  nodeName?: string;
  data?: '$request' | '$response';
  dependency?: 'Hard' | 'Soft';
}

/** A KServe InferenceGraph (serving.kserve.io/v1alpha1): routing nodes whose steps call InferenceServices or other nodes. */
export interface InferenceGraph extends KubeObject {
  apiVersion: 'serving.kserve.io/v1alpha1';
  kind: 'InferenceGraph';
  spec: {
    nodes: Record<string, { routerType: 'Sequence' | 'Ensemble' | 'Splitter' | 'Switch'; steps: InferenceGraphStep[] }>;
    minReplicas?: number;
    maxReplicas?: number;
    resources?: ResourceRequirements;
    serviceAccountName?: string;
  };
}

/** `Kind/namespace/name`, the way findings and file names refer to an object. */
export function objectRef(object: KubeObject): string {
  return `${object.kind}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
}
