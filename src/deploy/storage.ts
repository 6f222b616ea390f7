import type { Container, EnvVar, PersistentVolumeClaim, Volume, VolumeMount } from './k8s.js';
import { hardenedContainerSecurity, secretEnv } from './pod.js';
import type { Resolved } from './resolve.js';

/** Pinned so every pod downloads with the same client. */
export const HF_HUB_VERSION = '1.1.5';

export interface ModelStorage {
  volumes: Volume[];
  mounts: VolumeMount[];
  initContainers: Container[];
  claims: PersistentVolumeClaim[];
  podAnnotations: Record<string, string>;
  serviceAccountAnnotations: Record<string, string>;
  /** Whether pods need egress to the internet (downloads, GCS). */
  needsInternet: boolean;
  /** What the user should know (e.g. a size that was assumed). */
  notes: string[];
}

/** The claim name of the model volume. */
export function modelClaimName(r: Resolved): string {
  return r.deploy.storage.claimName ?? `${r.name}-model`;
}

/**
 * The four ways a model reaches a pod (from the chapter): baked into the image; a read-only volume; downloaded once by
 * an init container into a shared volume that later pods find filled (the hybrid); a GCS bucket mounted through FUSE.
 */
export function modelStorage(r: Resolved): ModelStorage {
  const storage = r.deploy.storage;
  const none: ModelStorage = { volumes: [], mounts: [], initContainers: [], claims: [], podAnnotations: {}, serviceAccountAnnotations: {}, needsInternet: false, notes: [] };
  switch (storage.strategy) {
    case 'baked':
      return none;
    case 'volume':
      return {
        ...none,
        volumes: [{ name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r), readOnly: true } }],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        claims: storage.claimName ? [] : [claim(r, 'ReadOnlyMany')],
      };
    case 'init':
      return {
        ...none,
        volumes: [{ name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } }],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        initContainers: [downloader(r)],
        claims: [claim(r, 'ReadWriteMany')],
        needsInternet: true,
      };
    case 'gcsfuse': {
      const cache = gcsfuseCache(storage.modelSize);
      return {
        ...none,
        volumes: [
          // The driver's webhook uses a pod volume of this name for the file cache instead of the sidecar's own
          // ephemeral storage (gcs-fuse-csi-driver v1.24, pkg/webhook/sidecar_spec.go SidecarContainerCacheVolumeName).
          { name: GCSFUSE_CACHE_VOLUME, emptyDir: { sizeLimit: cache.volume } },
          {
            name: 'model',
            csi: {
              driver: 'gcsfuse.csi.storage.gke.io',
              readOnly: true,
              volumeAttributes: { bucketName: storage.bucket!, mountOptions: gcsfuseMountOptions(cache.maxSizeMiB).join(',') },
            },
          },
        ],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        podAnnotations: { 'gke-gcsfuse/volumes': 'true', ...gcsfuseSidecarResources(cache.sidecarEphemeral) },
        serviceAccountAnnotations: storage.gcpServiceAccount ? { 'iam.gke.io/gcp-service-account': storage.gcpServiceAccount } : {},
        needsInternet: true,
        notes: cache.assumed
          ? [`deploy.storage.modelSize is not set: the gcsfuse file cache is sized for a ${DEFAULT_MODEL_SIZE} model (${cache.volume} volume); set it to the model's size`]
          : [],
      };
    }
  }
}

export const GCSFUSE_CACHE_VOLUME = 'gke-gcsfuse-cache';
/** Assumed when deploy.storage.modelSize is not given: a 7-8B model in bf16 is ~15-16 GiB. */
const DEFAULT_MODEL_SIZE = '20Gi';
const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * The file cache holds the whole model (+10 % for gcsfuse's bookkeeping); its volume a GiB more. The cache volume is
 * a pod emptyDir, which the kubelet counts against the pod's summed ephemeral-storage limits, so the sidecar's limit
 * carries it (+1 GiB for the sidecar's own logs and temp files).
 */
export function gcsfuseCache(modelSize: string | undefined): { maxSizeMiB: number; volume: string; sidecarEphemeral: string; assumed: boolean } {
  const bytes = quantityBytes(modelSize ?? DEFAULT_MODEL_SIZE);
  const maxSizeMiB = Math.ceil((bytes * 1.1) / MIB);
  const volumeGi = Math.ceil((maxSizeMiB * MIB) / GIB) + 1;
  return { maxSizeMiB, volume: `${volumeGi}Gi`, sidecarEphemeral: `${volumeGi + 1}Gi`, assumed: modelSize === undefined };
}

/**
 * Mount options for a read-only model bucket, in the CSI driver's `mountOptions` form (gcsfuse config-file keys with
 * `:` for nesting; gcs-fuse-csi-driver v1.24 pkg/csi_driver/utils.go and test/e2e/testsuites/mount.go):
 * - file cache sized to the model, with parallel downloads of large files, and range reads cached too (safetensors
 *   loaders read tensors by offset, which would otherwise bypass the cache);
 * - metadata (stat and type) cached without expiry or size bound: a pinned model's objects never change.
 */
export function gcsfuseMountOptions(cacheMiB: number): string[] {
  return [
    'implicit-dirs',
    `file-cache:max-size-mb:${cacheMiB}`,
    'file-cache:cache-file-for-range-read:true',
    'file-cache:enable-parallel-downloads:true',
    'metadata-cache:ttl-secs:-1',
    'metadata-cache:stat-cache-max-size-mb:-1',
    'metadata-cache:type-cache-max-size-mb:-1',
  ];
}

/**
 * The sidecar's resources by pod annotation (gcs-fuse-csi-driver v1.24 pkg/webhook/mutatingwebhook.go; defaults
 * 250m CPU / 256Mi memory / 5Gi ephemeral storage are too small for parallel downloads of a multi-GiB model).
 * Requests equal limits so the pod keeps Guaranteed QoS.
 */
function gcsfuseSidecarResources(ephemeral: string): Record<string, string> {
  const cpu = '2';
  const memory = '4Gi';
  return {
    'gke-gcsfuse/cpu-limit': cpu,
    'gke-gcsfuse/cpu-request': cpu,
    'gke-gcsfuse/ephemeral-storage-limit': ephemeral,
    'gke-gcsfuse/ephemeral-storage-request': ephemeral,
    'gke-gcsfuse/memory-limit': memory,
    'gke-gcsfuse/memory-request': memory,
  };
}

const SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

function quantityBytes(quantity: string): number {
  const match = /^(\d*\.?\d+)([a-zA-Z]*)$/.exec(quantity);
  return match && SUFFIX[match[2]!] !== undefined ? Number(match[1]) * SUFFIX[match[2]!]! : Number(quantity);
}

function claim(r: Resolved, mode: 'ReadOnlyMany' | 'ReadWriteMany'): PersistentVolumeClaim {
  const storage = r.deploy.storage;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: modelClaimName(r), namespace: r.namespace, labels: r.labels },
    spec: {
      accessModes: [mode],
      resources: { requests: { storage: storage.size! } },
      ...(storage.storageClass ? { storageClassName: storage.storageClass } : {}),
      volumeMode: 'Filesystem',
    },
  };
}

/**
 * Downloads the pinned revision into `<root>/<repo>/<revision>` unless a previous pod already did. The download goes
 * to a per-pod temp dir renamed into place, so pods starting together never see a half-written model.
 */
const DOWNLOAD_SCRIPT = [
  'set -eu',
  'target="$MODEL_ROOT/$HF_REPO/$HF_REVISION"',
  'if [ -f "$target/.llmops-complete" ]; then echo "model already on the volume: $target"; exit 0; fi',
  'pip install --no-cache-dir --user --quiet "huggingface_hub==$HF_HUB_VERSION"',
  'partial="$target.partial-$(hostname)"',
  'rm -rf "$partial" && mkdir -p "$partial"',
  '"$HOME/.local/bin/hf" download "$HF_REPO" --revision "$HF_REVISION" --local-dir "$partial"',
  'rm -rf "$partial/.cache" && touch "$partial/.llmops-complete"',
  'mv -T "$partial" "$target" 2>/dev/null || { rm -rf "$partial"; test -f "$target/.llmops-complete"; }',
  'echo "model downloaded: $target"',
].join('\n');

function downloader(r: Resolved): Container {
  const env: EnvVar[] = [
    { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
    { name: 'HF_HUB_VERSION', value: HF_HUB_VERSION },
    { name: 'HF_REPO', value: r.model.id! },
    { name: 'HF_REVISION', value: r.model.revision! },
    { name: 'HOME', value: '/tmp' },
    { name: 'MODEL_ROOT', value: r.deploy.storage.path },
    ...secretEnv(r.deploy.secrets.filter((s) => s.env === 'HF_TOKEN')),
  ];
  return {
    name: 'model-download',
    image: r.deploy.storage.downloaderImage,
    imagePullPolicy: 'Always',
    command: ['sh', '-c', DOWNLOAD_SCRIPT],
    env,
    resources: { requests: { cpu: '1', memory: '2Gi', 'ephemeral-storage': '1Gi' }, limits: { cpu: '1', memory: '2Gi', 'ephemeral-storage': '1Gi' } },
    securityContext: hardenedContainerSecurity(),
    volumeMounts: [
      { name: 'model', mountPath: r.deploy.storage.path },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}
