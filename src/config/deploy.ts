import { isIP } from 'node:net';
import { z } from 'zod';
import { COMPILE_BACKENDS, type BackendName } from '../artifact/compile-choices.js';
import { SERVER_TEMPLATES, SERVERS } from '../servers/catalog.js';
import { DNS_LABEL, labelKeyError, labelValueError } from '../k8s/names.js';
import { QUANTITY } from '../k8s/quantity.js';

/**
 * The `serve:` and `deploy:` sections of llmops.yaml. Objects are strict so a misspelt key is an error naming it;
 * rules that span keys (a storage strategy and its fields, replica bounds, drain timing) are in `checkDeployConfig`,
 * which reports with the offending key's path so the loader prints `file:line: \`deploy.storage.size\` …`.
 */

const dnsLabel = z.string().regex(DNS_LABEL, 'must be a DNS-1123 label (lowercase letters, digits and -)');
/** Kubernetes resource quantity (`4`, `500m`, `16Gi`). */
const quantity = z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as 4, 500m or 16Gi');
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const urlPath = z.string().regex(/^\/\S*$/, 'must be a URL path starting with /');

/** A label map (node selector, pod selector) checked with the API server's key and value rules. */
const labelMap = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const keyError = labelKeyError(key);
    if (keyError) ctx.addIssue({ code: 'custom', path: [key], message: `label key ${keyError}` });
    const valueError = labelValueError(value);
    if (valueError) ctx.addIssue({ code: 'custom', path: [key], message: `label value ${valueError}` });
  }
});

/** `10.0.0.0/8`, `2001:db8::/32`. */
const cidr = z.string().refine((value) => {
  const [address, bits, ...rest] = value.split('/');
  const version = isIP(address ?? '');
  return rest.length === 0 && version !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (version === 4 ? 32 : 128);
}, 'must be a CIDR such as 10.0.0.0/8');

/**
 * A caller the NetworkPolicy admits: a namespace name (all its pods), pods by label (in this namespace, or in
 * `namespace`), or addresses (`cidr`, minus `except`).
 */
const allowFromSchema = z.union([
  dnsLabel,
  z
    .object({
      namespace: dnsLabel.optional(),
      podSelector: labelMap.optional(),
      cidr: cidr.optional(),
      except: z.array(cidr).optional(),
    })
    .strict()
    .superRefine((peer, ctx) => {
      if (peer.cidr === undefined && peer.namespace === undefined && peer.podSelector === undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: 'needs namespace, podSelector or cidr' });
      }
      if (peer.cidr !== undefined && (peer.namespace !== undefined || peer.podSelector !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['cidr'],
          message:
            'cannot be combined with namespace or podSelector (a NetworkPolicy peer is one or the other): list them separately',
        });
      }
      if (peer.except !== undefined && peer.cidr === undefined)
        ctx.addIssue({ code: 'custom', path: ['except'], message: 'needs cidr' });
    }),
]);
export type AllowFrom = z.infer<typeof allowFromSchema>;

export const serveSchema = z
  .object({
    /** Server image, pinned by tag (not `latest`) or digest. Required by `llmops deploy` (or its `--image`). */
    image: z.string().min(1).optional(),
    /** Port the server listens on. @default 8000 */
    port: z.number().int().min(1).max(65535).default(8000),
    /** The scaffold template the image was built from: decides probe paths and metric names. @default node */
    template: z.enum(SERVER_TEMPLATES).default('node'),
    /** Probe and metrics paths, when they differ from the template's. */
    paths: z
      .object({ health: urlPath.optional(), ready: urlPath.optional(), metrics: urlPath.optional() })
      .strict()
      .default({}),
    /** How long the server finishes in-flight streams after SIGTERM (its SHUTDOWN_TIMEOUT). @default 30 */
    shutdownTimeoutSeconds: z.number().int().min(0).default(30),
    /** Extra non-secret environment variables for the server container. Secrets go in `deploy.secrets`. */
    env: z.record(z.string().regex(ENV_NAME, 'must be an environment variable name'), z.string()).default({}),
    /** Replaces the image's entrypoint (the container's `command`); the server's flags are then not checked. */
    command: z.array(z.string().min(1)).min(1).optional(),
    /** Replaces the derived server arguments (model, revision, port, served name, tensor parallelism). */
    args: z.array(z.string()).optional(),
    /** Appended to the derived (or given) arguments, e.g. [--max-model-len, "8192"]. */
    extraArgs: z.array(z.string()).default([]),
  })
  .strict();

const secretRefSchema = z
  .object({
    /** Environment variable the container sees, e.g. HF_TOKEN or API_KEYS. */
    env: z.string().regex(ENV_NAME, 'must be an environment variable name'),
    /** Name of the Kubernetes Secret (created outside llmops). */
    name: dnsSubdomain(),
    /** Key inside the Secret. */
    key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key (letters, digits, -, _ and .)'),
  })
  .strict();

function dnsSubdomain() {
  return z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
      'must be a DNS-1123 subdomain (lowercase letters, digits, - and .)',
    );
}

/**
 * The llmops compile backends a compile Job can run for each server, in order of preference (the first is the
 * default). Only backends that run inside the Job's own container: `tensorrt` and `tensorrt-llm` start NVIDIA's
 * containers through Docker, which a pod does not have (and trtllm-serve compiles at start anyway).
 */
export const COMPILED_BACKENDS: Record<ServeConfig['template'], readonly BackendName[]> = {
  node: ['ort', 'optimum'],
  fastapi: ['optimum', 'ort'],
  vllm: [],
  tgi: [],
  trtllm: [],
  triton: [],
};

/** What deploy scales on: a server's queue, DCGM's GPU utilization, or the server's KV cache usage. */
export const AUTOSCALING_METRICS = ['queue-depth', 'gpu-utilization', 'kv-cache'] as const;
export type AutoscalingMetric = (typeof AUTOSCALING_METRICS)[number];

export const storageStrategies = ['baked', 'volume', 'init', 'gcsfuse', 'hub'] as const;
export type StorageStrategy = (typeof storageStrategies)[number];

export const graphNodeTypes = ['MODEL', 'COMBINER', 'ROUTER', 'TRANSFORMER', 'OUTPUT_TRANSFORMER'] as const;
/** Who runs the graph: Seldon Core v1 (one SeldonDeployment) or KServe (an InferenceService per node + an InferenceGraph). */
export const graphRuntimes = ['seldon-v1', 'kserve'] as const;
/** A node's server: a scaffold template, or `seldon` (Seldon Core's Python wrapper: /health/ping, /health/status). */
export const graphNodeTemplates = [...SERVER_TEMPLATES, 'seldon'] as const;

export interface GraphNodeConfig {
  name: string;
  type: (typeof graphNodeTypes)[number];
  image: string;
  /** Decides probe paths and the autoscaling metric. @default seldon (runtime seldon-v1), node (runtime kserve) */
  template?: (typeof graphNodeTemplates)[number] | undefined;
  /** Port the node's server listens on. @default 9000 for template seldon, else 8000 */
  port?: number | undefined;
  paths: { health?: string | undefined; ready?: string | undefined; metrics?: string | undefined };
  gpu?: { count: number; type?: string | undefined } | undefined;
  resources?: { cpu: string; memory: string } | undefined;
  /** Replica bounds of this node alone. @default deploy.replicas */
  replicas?: { min: number; max: number } | undefined;
  /** This node's autoscaling signal, over deploy.autoscaling's metric and target. */
  autoscaling?:
    | {
        metric?: DeployConfig['autoscaling']['metric'] | undefined;
        target?: number | undefined;
        query?: string | undefined;
      }
    | undefined;
  /** Env names of deploy.secrets this node gets. @default all of deploy.secrets */
  secrets?: string[] | undefined;
  children: GraphNodeConfig[];
}

const graphNodeSchema: z.ZodType<GraphNodeConfig> = z.lazy(() =>
  z
    .object({
      name: dnsLabel,
      type: z.enum(graphNodeTypes),
      image: z.string().min(1),
      template: z.enum(graphNodeTemplates).optional(),
      port: z.number().int().min(1).max(65535).optional(),
      paths: z
        .object({ health: urlPath.optional(), ready: urlPath.optional(), metrics: urlPath.optional() })
        .strict()
        .default({}),
      gpu: z
        .object({
          count: z.number().int().min(1).default(1),
          type: z
            .string()
            .regex(/^[a-z0-9-]+$/)
            .optional(),
        })
        .strict()
        .optional(),
      resources: z
        .object({ cpu: quantity.default('1'), memory: quantity.default('2Gi') })
        .strict()
        .optional(),
      replicas: z
        .object({ min: z.number().int().min(0), max: z.number().int().min(1) })
        .strict()
        .optional(),
      autoscaling: z
        .object({
          metric: z.enum(AUTOSCALING_METRICS).optional(),
          target: z.number().positive().optional(),
          query: z.string().min(1).optional(),
        })
        .strict()
        .optional(),
      secrets: z.array(z.string().regex(ENV_NAME, 'must be an environment variable name')).optional(),
      children: z.array(graphNodeSchema).default([]),
    })
    .strict(),
);

const graphSchema = z
  .object({
    /** @default seldon-v1 */
    runtime: z.enum(graphRuntimes).default('seldon-v1'),
    /** The root node of the tree. */
    root: graphNodeSchema,
  })
  .strict();

export type GraphConfig = z.infer<typeof graphSchema>;

export const deploySchema = z
  .object({
    /** Namespace of every object. @default default */
    namespace: dnsLabel.default('default'),
    /** Cloud whose node labels select the GPU type. @default gke */
    provider: z.enum(['gke', 'eks', 'aks', 'generic']).default('gke'),
    replicas: z
      .object({ min: z.number().int().min(0).default(1), max: z.number().int().min(1).default(4) })
      .strict()
      .default({ min: 1, max: 4 }),
    gpu: z
      .object({
        /** Accelerator: nvidia-t4, nvidia-l4, nvidia-a10g, nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb… */
        /** …nvidia-h200-141gb, nvidia-b200, nvidia-l40s (see facts.ts); another type needs deploy.nodeSelector. */
        type: z
          .string()
          .regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and - (e.g. nvidia-l4)')
          .default('nvidia-l4'),
        count: z.number().int().min(1).default(1),
      })
      .strict()
      .default({ type: 'nvidia-l4', count: 1 }),
    /** Node labels for the GPU pods, replacing the selector derived from deploy.provider and deploy.gpu.type. */
    nodeSelector: labelMap.optional(),
    /**
     * GKE node auto-provisioning (`--emit nap`): NAP's resourceLimits are cluster-wide, so `existing` is what the rest
     * of the cluster already uses (system pools, other workloads); nap.yaml's limits are existing + this service.
     */
    nap: z
      .object({
        existing: z
          .object({
            /** vCPUs. */
            cpu: z.number().min(0),
            /** Memory as a quantity (`96Gi`). */
            memory: quantity,
            /** GPUs of deploy.gpu.type already in the cluster. @default 0 */
            gpus: z.number().int().min(0).default(0),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    resources: z
      .object({
        cpu: quantity.default('4'),
        memory: quantity.default('16Gi'),
        /** Size of the memory-backed /dev/shm (NCCL and PyTorch dataloaders need more than the 64 MiB default). */
        shm: quantity.default('1Gi'),
        /** Node disk for the container's writable layer and logs, on top of the scratch volumes (added to it). */
        ephemeralStorage: quantity.default('4Gi'),
        /**
         * Writable cache volume (HOME, XDG_CACHE_HOME and the server's own cache roots: compiled kernels, torch.compile
         * artifacts) under a read-only root filesystem.
         */
        cache: quantity.default('10Gi'),
      })
      .strict()
      .default({ cpu: '4', memory: '16Gi', shm: '1Gi', ephemeralStorage: '4Gi', cache: '10Gi' }),
    storage: z
      .object({
        /**
         * How the model reaches the pod. Default: `hub` when the model is a Hub id and the server downloads it itself
         * (vllm, tgi, trtllm), else `baked`.
         */
        strategy: z.enum(storageStrategies).optional(),
        /** PVC size (volume, init). */
        size: quantity.optional(),
        storageClass: dnsSubdomain().optional(),
        /** An existing PVC that holds the model, mounted read-only (volume). */
        claimName: dnsSubdomain().optional(),
        /** A VolumeSnapshot or PVC the new PVC is cloned from, already holding the model (volume). */
        dataSource: z
          .object({ kind: z.enum(['VolumeSnapshot', 'PersistentVolumeClaim']), name: dnsSubdomain() })
          .strict()
          .optional(),
        /** GCS bucket (gcsfuse). */
        bucket: z
          .string()
          .regex(/^[a-z0-9][-_.a-z0-9]{1,221}[a-z0-9]$/, 'must be a GCS bucket name')
          .optional(),
        /** Google service account bound by Workload Identity (gcsfuse), e.g. models@project.iam.gserviceaccount.com. */
        gcpServiceAccount: z.string().email().optional(),
        /** Where the model is mounted (or, for baked, where the image holds it). @default /models */
        path: z
          .string()
          .regex(/^\/\S*$/, 'must be an absolute path')
          .default('/models'),
        /**
         * Size of the model's files: sizes the gcsfuse file cache and the sidecar's ephemeral storage, or the room a
         * server downloading the model (hub) gets in its cache volume.
         */
        modelSize: quantity.optional(),
        /**
         * Pinned image with python3 and huggingface_hub that downloads the model (init, volume populate Job).
         * Default: the server image for vllm, tgi and trtllm, which ship both.
         */
        downloaderImage: z.string().min(1).optional(),
      })
      .strict()
      .default({ path: '/models' }),
    autoscaling: z
      .object({
        engine: z.enum(['keda', 'hpa', 'none']).default('keda'),
        /** Default: queue-depth where the server exports one, else gpu-utilization (DCGM). */
        metric: z.enum(AUTOSCALING_METRICS).optional(),
        /** Per-replica target: waiting requests (queue-depth) or percent (gpu-utilization, kv-cache). */
        target: z.number().positive().optional(),
        /** PromQL returning one series, replacing the query derived from the metric. */
        query: z.string().min(1).optional(),
        prometheusAddress: z.string().url().default('http://prometheus-operated.monitoring.svc:9090'),
        pollingIntervalSeconds: z.number().int().min(1).default(15),
        /** Scale-down stabilization; default max(600, pod start budget). */
        scaleDownStabilizationSeconds: z.number().int().min(0).optional(),
        /** Slow scale-down: at most this many pods… @default 1 */
        scaleDownPods: z.number().int().min(1).default(1),
        /** …per this many seconds. @default 300 */
        scaleDownPeriodSeconds: z.number().int().min(1).max(1800).default(300),
        /**
         * What wakes a service scaled to zero (`replicas.min: 0`): a signal that exists while no pod runs. Either the
         * KEDA HTTP add-on (requests go through its interceptor, which holds them while a pod starts) or a PromQL
         * request rate measured in front of the pods (ingress controller, gateway, load balancer).
         */
        wake: z
          .object({
            httpAddOn: z
              .object({
                /** Host headers routed to this service through the interceptor. */
                hosts: z.array(z.string().min(1)).min(1),
                pathPrefixes: z.array(z.string().regex(/^\//, 'must start with /')).optional(),
                /** Requests in flight per replica the add-on scales on. @default 100 */
                concurrency: z.number().int().positive().default(100),
              })
              .strict()
              .optional(),
            /** PromQL of the request rate in front of the pods, e.g. from the ingress controller. */
            query: z.string().min(1).optional(),
            /** Requests/s per replica for `query` (default: the capacity from `--from-bench`). */
            requestsPerReplica: z.number().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({
        engine: 'keda',
        prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
        pollingIntervalSeconds: 15,
        scaleDownPods: 1,
        scaleDownPeriodSeconds: 300,
      }),
    probes: z
      .object({
        /** Worst-case model load time; `--from-bench` with an engine result replaces it with the measured load. */
        modelLoadSeconds: z.number().int().min(1).default(300),
      })
      .strict()
      .default({ modelLoadSeconds: 300 }),
    rollout: z
      .object({ maxSurge: z.number().int().min(0).optional(), maxUnavailable: z.number().int().min(0).optional() })
      .strict()
      .default({}),
    drain: z
      .object({
        /** Seconds a terminating pod keeps serving while endpoints drop it. @default 10 */
        preStopSeconds: z.number().int().min(0).default(10),
        /** Default: preStop + serve.shutdownTimeoutSeconds + 10. */
        terminationGracePeriodSeconds: z.number().int().min(1).optional(),
      })
      .strict()
      .default({ preStopSeconds: 10 }),
    /** Environment variables filled from existing Secrets (by reference: values never pass through llmops). */
    secrets: z.array(secretRefSchema).default([]),
    monitoring: z
      .object({
        serviceMonitor: z.boolean().default(true),
        interval: z
          .string()
          .regex(/^\d+(ms|s|m)$/, 'must be a Prometheus duration such as 30s')
          .default('30s'),
        /** Namespace of Prometheus, allowed to scrape through the NetworkPolicy. @default monitoring */
        namespace: dnsLabel.default('monitoring'),
      })
      .strict()
      .default({ serviceMonitor: true, interval: '30s', namespace: 'monitoring' }),
    /**
     * Who else may call the service: namespace names, `{podSelector, namespace?}` for some pods, `{cidr, except?}` for
     * addresses (an ingress controller on the host network, a load balancer's source range).
     */
    allowFrom: z.array(allowFromSchema).default([]),
    /** Kustomize overlays written with `--kustomize`. */
    environments: z.array(dnsLabel).min(1).default(['staging', 'production']),
    capacity: z
      .object({
        /** Spare capacity above the peak: 0.2 = 20 %. */
        headroom: z.number().min(0).max(10).default(0.2),
        /** Peak requests per second to plan for (or `--peak-qps`). */
        peakQps: z.number().positive().optional(),
      })
      .strict()
      .default({ headroom: 0.2 }),
    compileJob: z
      .object({
        /**
         * Pinned image with llmops and the backend's tools. When set, a Job compiles the downloaded model on the GPU
         * node pool the service runs on, and the Deployment serves the engine it writes.
         */
        image: z.string().min(1).optional(),
        /** Default: the first backend the server runs (node: ort; fastapi: optimum); the Job runs it in its own container. */
        backend: z.enum(COMPILE_BACKENDS).optional(),
      })
      .strict()
      .default({}),
    lint: z
      .object({ ignore: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ ignore: [] }),
    /** An inference graph (Seldon Core v1 or KServe) instead of a single model server. */
    graph: graphSchema.optional(),
  })
  .strict();

export type ServeConfig = z.infer<typeof serveSchema>;
export type DeployConfig = z.infer<typeof deploySchema>;

export const SERVE_DEFAULTS: ServeConfig = serveSchema.parse({});
export const DEPLOY_DEFAULTS: DeployConfig = deploySchema.parse({});

/** The config model entry as llmops.yaml allows it. */
export type ModelRef =
  | string
  | { id?: string | undefined; path?: string | undefined; revision?: string | undefined; dtype?: string | undefined }
  | undefined;

interface ConfigShape {
  model?: ModelRef;
  serve: ServeConfig;
  deploy: DeployConfig;
}

function isLocalPath(model: string): boolean {
  return model.startsWith('.') || model.startsWith('/') || model.startsWith('~');
}

/** The Hub id the config names (`org/name`), or null when the model is a local directory or artifact. */
export function hubModelId(model: ModelRef): string | null {
  if (typeof model === 'string') return isLocalPath(model) ? null : model;
  return model?.path ? null : (model?.id ?? null);
}

export function pinnedRevision(model: ModelRef): string | null {
  return typeof model === 'object' ? (model.revision ?? null) : null;
}

/** `deploy.storage.strategy`, or its default: the server downloads a Hub model itself where it can, else baked. */
export function storageStrategyOf(config: ConfigShape): StorageStrategy {
  const configured = config.deploy.storage.strategy;
  if (configured) return configured;
  return hubModelId(config.model) && SERVERS[config.serve.template].downloadsFromHub ? 'hub' : 'baked';
}

/** Issue sink compatible with zod's superRefine context. */
interface IssueSink {
  addIssue(issue: { code: 'custom'; message: string; path: (string | number)[] }): void;
}

/** Rules that span keys. Each issue carries the path of the key to fix. */
export function checkDeployConfig(config: ConfigShape, ctx: IssueSink): void {
  const { deploy, serve } = config;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', message, path });
  const storage = deploy.storage;

  if (deploy.replicas.min > deploy.replicas.max) {
    issue(
      ['deploy', 'replicas', 'min'],
      `must not exceed deploy.replicas.max (${deploy.replicas.max}), got ${deploy.replicas.min}`,
    );
  }
  if (deploy.replicas.min === 0 && deploy.autoscaling.engine !== 'keda') {
    issue(
      ['deploy', 'replicas', 'min'],
      'can be 0 only with deploy.autoscaling.engine: keda (scale to zero); use 1 or more',
    );
  }
  const wake = deploy.autoscaling.wake;
  if (deploy.replicas.min === 0 && deploy.autoscaling.engine === 'keda' && !wake) {
    issue(
      ['deploy', 'replicas', 'min'],
      "can be 0 only with a signal that exists while no pod runs: the server's own metrics vanish at zero pods and the service would never wake; set deploy.autoscaling.wake (httpAddOn or a request-rate query in front of the pods), or use 1",
    );
  }
  if (wake && !wake.httpAddOn === !wake.query) {
    issue(['deploy', 'autoscaling', 'wake'], 'needs exactly one of httpAddOn or query');
  }
  if (wake?.httpAddOn && deploy.autoscaling.engine !== 'keda') {
    issue(
      ['deploy', 'autoscaling', 'wake', 'httpAddOn'],
      `is a KEDA add-on: set deploy.autoscaling.engine: keda, got ${deploy.autoscaling.engine}`,
    );
  }
  const strategy = storageStrategyOf(config);
  const hubId = hubModelId(config.model);
  const needsPinnedHubModel = (why: string) => {
    if (!hubId) issue(['model'], `must name a Hub model (model.id) for storage strategy ${strategy}, which ${why}`);
    else if (!pinnedRevision(config.model)) {
      issue(
        ['model', 'revision'],
        `is required for storage strategy ${strategy}: pin the revision (a commit sha) so every pod serves the same weights`,
      );
    }
  };
  if (strategy === 'volume') {
    const sources = [storage.claimName && 'claimName', storage.dataSource && 'dataSource'].filter(Boolean);
    if (sources.length > 1)
      issue(
        ['deploy', 'storage', 'dataSource'],
        'and deploy.storage.claimName exclude each other: mount the existing claim, or clone a new one',
      );
    if (sources.length === 0) {
      if (!storage.size) {
        issue(
          ['deploy', 'storage', 'size'],
          'is required for storage strategy volume without a source: give deploy.storage.claimName (a PVC holding the model), deploy.storage.dataSource (a snapshot to clone), or a size for a new PVC that a Job fills',
        );
      } else needsPinnedHubModel('a Job downloads into the new volume');
    }
    if (storage.dataSource && !storage.size)
      issue(['deploy', 'storage', 'size'], 'is required with deploy.storage.dataSource (the size of the cloned PVC)');
  } else if (storage.claimName || storage.dataSource) {
    issue(
      ['deploy', 'storage', storage.claimName ? 'claimName' : 'dataSource'],
      `is only used by storage strategy volume, not ${strategy}`,
    );
  }
  if (strategy === 'init') {
    if (!storage.size)
      issue(
        ['deploy', 'storage', 'size'],
        'is required for storage strategy init (the shared PVC the model is downloaded into)',
      );
    needsPinnedHubModel('downloads it');
  }
  if (strategy === 'hub') {
    needsPinnedHubModel('the server downloads it at start');
    if (!SERVERS[serve.template].downloadsFromHub) {
      issue(
        ['deploy', 'storage', 'strategy'],
        `hub needs a server that downloads from the Hub itself (vllm, tgi, trtllm), not ${serve.template}: use init, volume, gcsfuse or baked`,
      );
    }
  }
  if (deploy.compileJob.image) {
    const backends = COMPILED_BACKENDS[serve.template];
    if (backends.length === 0) {
      issue(
        ['deploy', 'compileJob', 'image'],
        `the ${serve.template} server loads (and compiles) the model itself at start: remove deploy.compileJob`,
      );
    } else if (deploy.compileJob.backend && !backends.includes(deploy.compileJob.backend)) {
      issue(
        ['deploy', 'compileJob', 'backend'],
        `the ${serve.template} server runs ${backends.join(' or ')} artifacts, not ${deploy.compileJob.backend}`,
      );
    }
    if (!(strategy === 'init' || (strategy === 'volume' && !storage.claimName && !storage.dataSource))) {
      issue(
        ['deploy', 'storage', 'strategy'],
        `must give the compile Job a writable volume holding the downloaded model (init, or volume with a size) when deploy.compileJob is set, got ${strategy}`,
      );
    }
  }
  if (strategy === 'gcsfuse') {
    if (!storage.bucket) issue(['deploy', 'storage', 'bucket'], 'is required for storage strategy gcsfuse');
    if (deploy.provider !== 'gke')
      issue(
        ['deploy', 'provider'],
        `must be gke for storage strategy gcsfuse (the GCS FUSE CSI driver is a GKE add-on), got ${deploy.provider}`,
      );
  }
  if (strategy !== 'gcsfuse' && strategy !== 'hub' && storage.modelSize) {
    issue(
      ['deploy', 'storage', 'modelSize'],
      `sizes the gcsfuse file cache or the hub download and is only used by those storage strategies, not ${strategy}`,
    );
  }
  if (strategy !== 'gcsfuse' && storage.bucket) {
    issue(['deploy', 'storage', 'bucket'], `is only used by storage strategy gcsfuse, not ${strategy}`);
  }
  const { maxSurge, maxUnavailable } = deploy.rollout;
  if (maxSurge === 0 && maxUnavailable === 0) {
    issue(
      ['deploy', 'rollout', 'maxUnavailable'],
      'and deploy.rollout.maxSurge cannot both be 0 (the rollout could never progress)',
    );
  }
  const grace = deploy.drain.terminationGracePeriodSeconds;
  const needed = deploy.drain.preStopSeconds + serve.shutdownTimeoutSeconds;
  if (grace !== undefined && grace < needed) {
    issue(
      ['deploy', 'drain', 'terminationGracePeriodSeconds'],
      `must be at least deploy.drain.preStopSeconds + serve.shutdownTimeoutSeconds = ${needed}, got ${grace} (streams would be killed mid-drain)`,
    );
  }
  const target = deploy.autoscaling.target;
  if (
    target !== undefined &&
    deploy.autoscaling.metric &&
    deploy.autoscaling.metric !== 'queue-depth' &&
    target > 100
  ) {
    issue(
      ['deploy', 'autoscaling', 'target'],
      `is a percentage for ${deploy.autoscaling.metric}: use a value in (0, 100], got ${target}`,
    );
  }
  const stabilization = deploy.autoscaling.scaleDownStabilizationSeconds;
  if (stabilization !== undefined && stabilization > 3600) {
    issue(
      ['deploy', 'autoscaling', 'scaleDownStabilizationSeconds'],
      `must be at most 3600 (the HPA limit), got ${stabilization}`,
    );
  }
  for (const [name, value] of Object.entries(serve.env)) {
    if (SECRET_ENV.test(name) && value !== '') {
      issue(
        ['serve', 'env', name],
        'looks like a secret: never put its value in llmops.yaml; reference a Secret in deploy.secrets instead',
      );
    }
  }
  const secretNames = new Set<string>();
  deploy.secrets.forEach((secret, index) => {
    if (secretNames.has(secret.env)) issue(['deploy', 'secrets', index, 'env'], `${secret.env} is listed twice`);
    secretNames.add(secret.env);
    if (serve.env[secret.env] !== undefined)
      issue(['serve', 'env', secret.env], 'is also in deploy.secrets: keep it only there');
  });
  if (deploy.graph) {
    const seen = new Set<string>();
    const secretEnvs = new Set(deploy.secrets.map((s) => s.env));
    const walk = (node: GraphNodeConfig, path: (string | number)[]) => {
      if (seen.has(node.name))
        issue([...path, 'name'], `${node.name} is used by two graph nodes; names must be unique`);
      seen.add(node.name);
      if ((node.type === 'COMBINER' || node.type === 'ROUTER') && node.children.length === 0) {
        issue(
          [...path, 'children'],
          `a ${node.type} needs children to ${node.type === 'ROUTER' ? 'route to' : 'combine'}`,
        );
      }
      if (node.replicas && node.replicas.min > node.replicas.max) {
        issue(
          [...path, 'replicas', 'min'],
          `must not exceed the node's replicas.max (${node.replicas.max}), got ${node.replicas.min}`,
        );
      }
      (node.secrets ?? []).forEach((env, index) => {
        if (!secretEnvs.has(env))
          issue([...path, 'secrets', index], `${env} is not in deploy.secrets: list the Secret reference there first`);
      });
      node.children.forEach((child, index) => walk(child, [...path, 'children', index]));
    };
    walk(deploy.graph.root, ['deploy', 'graph', 'root']);
  }
}

/** Environment variable names that hold secrets. */
export const SECRET_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEYS?|CREDENTIALS?|PRIVATE_KEY)$/i;
