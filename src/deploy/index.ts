/** `llmops deploy`: Kubernetes manifests for GPU model serving. */
export { deploy, type DeployOptions, type DeployResult } from './deploy.js';
export { buildManifests, type Emit } from './build.js';
export { resolveDeploy, type Resolved } from './resolve.js';
export { readBenchResult, parseBenchResult, planCapacity, type CapacityPlan } from './capacity.js';
export { lintObjects, readManifests, RULES, type LintFinding } from './lint/index.js';
export {
  StrictValidator,
  loadSchemaDir,
  loadBundledSchemas,
  loadCrdDir,
  withCrds,
  REPO_CRDS,
  type SchemaSet,
} from '../k8s/validate/index.js';
export { toYaml, toYamlStream } from '../k8s/serialize.js';
export { deploySchema, serveSchema, type DeployConfig, type ServeConfig } from '../config/deploy.js';
/** Kinds llmops emits: the bundled schema subset covers exactly these (from ../shared/k8s-schemas, else schemas/crds/). */
export const EMITTED_KINDS = [
  'apps/v1 Deployment',
  'autoscaling/v2 HorizontalPodAutoscaler',
  'batch/v1 Job',
  'http.keda.sh/v1alpha1 HTTPScaledObject',
  'keda.sh/v1alpha1 ScaledObject',
  'machinelearning.seldon.io/v1 SeldonDeployment',
  'monitoring.coreos.com/v1 ServiceMonitor',
  'networking.k8s.io/v1 NetworkPolicy',
  'policy/v1 PodDisruptionBudget',
  'serving.kserve.io/v1alpha1 InferenceGraph',
  'serving.kserve.io/v1beta1 InferenceService',
  'v1 PersistentVolumeClaim',
  'v1 Service',
  'v1 ServiceAccount',
] as const;
