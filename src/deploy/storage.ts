import type { Container, EnvVar, Job, PersistentVolumeClaim, Volume, VolumeMount } from '../k8s/objects.js';
import { guaranteedResources, hardenedContainerSecurity, secretEnv, serviceJob } from '../k8s/pod.js';
import { quantityToNumber } from '../k8s/quantity.js';
import type { Resolved } from './resolve.js';

export interface ModelStorage {
  volumes: Volume[];
  mounts: VolumeMount[];
  initContainers: Container[];
  claims: PersistentVolumeClaim[];
  /** Jobs that fill the model volume before pods can serve from it (volume without a source). */
  jobs: Job[];
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

/** The file a finished download leaves in the model's directory (downloads are renamed into place with it). */
export const COMPLETE_MARKER = '.llmops-complete';

/**
 * The ways a model reaches a pod (from the chapter): baked into the image; a read-only volume (an existing claim, a
 * clone of a snapshot, or a new claim a Job fills once); downloaded once by an init container into a shared volume
 * that later pods find filled (the hybrid); a GCS bucket mounted through FUSE; or downloaded by the server itself at
 * start (hub), into its cache volume.
 */
export function modelStorage(r: Resolved): ModelStorage {
  const storage = r.deploy.storage;
  const none: ModelStorage = {
    volumes: [],
    mounts: [],
    initContainers: [],
    claims: [],
    jobs: [],
    podAnnotations: {},
    serviceAccountAnnotations: {},
    needsInternet: false,
    notes: [],
  };
  // Pods that serve a compiled engine wait for the compile Job to write it.
  const waitForEngine = r.engine ? [waitFor(r, 'wait-for-engine', `${r.engine.dir}/llmops.json`)] : [];
  switch (r.storage.strategy) {
    case 'baked':
      return none;
    case 'hub':
      return { ...none, needsInternet: true };
    case 'volume': {
      const readOnlyModel = {
        volumes: [{ name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r), readOnly: true } }],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
      };
      if (storage.claimName) return { ...none, ...readOnlyModel };
      if (storage.dataSource) return { ...none, ...readOnlyModel, claims: [claim(r, 'ReadOnlyMany')] };
      // A new claim that one Job fills; pods wait for the download (and the engine) before the server starts.
      return {
        ...none,
        ...readOnlyModel,
        claims: [claim(r, 'ReadWriteMany')],
        jobs: [populateJob(r)],
        initContainers: [waitFor(r, 'wait-for-model', `${r.model.dir}/${COMPLETE_MARKER}`), ...waitForEngine],
        needsInternet: false,
      };
    }
    case 'init':
      return {
        ...none,
        volumes: [{ name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } }],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        initContainers: [downloader(r), ...waitForEngine],
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
              volumeAttributes: {
                bucketName: storage.bucket!,
                mountOptions: gcsfuseMountOptions(cache.maxSizeMiB).join(','),
              },
            },
          },
        ],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        podAnnotations: { 'gke-gcsfuse/volumes': 'true', ...gcsfuseSidecarResources(cache.sidecarEphemeral) },
        serviceAccountAnnotations: storage.gcpServiceAccount
          ? { 'iam.gke.io/gcp-service-account': storage.gcpServiceAccount }
          : {},
        needsInternet: true,
        notes: cache.assumed
          ? [
              `deploy.storage.modelSize is not set: the gcsfuse file cache is sized for a ${DEFAULT_MODEL_SIZE} model (${cache.volume} volume); set it to the model's size`,
            ]
          : [],
      };
    }
  }
}

export const GCSFUSE_CACHE_VOLUME = 'gke-gcsfuse-cache';
/** Assumed when deploy.storage.modelSize is not given: a 7-8B model in bf16 is ~15-16 GiB. */
export const DEFAULT_MODEL_SIZE = '20Gi';
const MIB = 2 ** 20;
const GIB = 2 ** 30;

/**
 * The file cache holds the whole model (+10 % for gcsfuse's bookkeeping); its volume a GiB more. The cache volume is
 * a pod emptyDir, which the kubelet counts against the pod's summed ephemeral-storage limits, so the sidecar's limit
 * carries it (+1 GiB for the sidecar's own logs and temp files).
 */
export function gcsfuseCache(modelSize: string | undefined): {
  maxSizeMiB: number;
  volume: string;
  sidecarEphemeral: string;
  assumed: boolean;
} {
  const bytes = quantityToNumber(modelSize ?? DEFAULT_MODEL_SIZE);
  const maxSizeMiB = Math.ceil((bytes * 1.1) / MIB);
  const volumeGi = Math.ceil((maxSizeMiB * MIB) / GIB) + 1;
  return {
    maxSizeMiB,
    volume: `${volumeGi}Gi`,
    sidecarEphemeral: `${volumeGi + 1}Gi`,
    assumed: modelSize === undefined,
  };
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

function claim(r: Resolved, mode: 'ReadOnlyMany' | 'ReadWriteMany'): PersistentVolumeClaim {
  const storage = r.deploy.storage;
  const source = storage.dataSource;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: modelClaimName(r), namespace: r.namespace, labels: r.labels },
    spec: {
      accessModes: [mode],
      ...(source
        ? {
            dataSourceRef: {
              ...(source.kind === 'VolumeSnapshot' ? { apiGroup: 'snapshot.storage.k8s.io' } : {}),
              kind: source.kind,
              name: source.name,
            },
          }
        : {}),
      resources: { requests: { storage: storage.size! } },
      ...(storage.storageClass ? { storageClassName: storage.storageClass } : {}),
      volumeMode: 'Filesystem',
    },
  };
}

/**
 * Downloads the pinned revision into $MODEL_DIR unless someone already did. The download goes to a per-pod directory
 * renamed into place with a completion marker, so pods (and the populate or compile Job) starting together never see
 * a half-written model, and the loser of a race just checks the winner's marker. A download whose pod died leaves its
 * partial directory behind: a heartbeat file marks live ones, and partials idle for STALE_MINUTES are removed.
 * huggingface_hub comes with the image (a pinned one), never from pip at pod start.
 */
export const DOWNLOAD_SCRIPT = [
  'set -eu',
  `marker="$MODEL_DIR/${COMPLETE_MARKER}"`,
  'if [ -f "$marker" ]; then echo "model already on the volume: $MODEL_DIR"; exit 0; fi',
  'mkdir -p "$(dirname "$MODEL_DIR")"',
  'for stale in "$MODEL_DIR".partial-*; do',
  '  [ -d "$stale" ] || continue',
  '  if [ -z "$(find "$stale" "$stale/.llmops-heartbeat" -maxdepth 0 -mmin "-$STALE_MINUTES" 2>/dev/null)" ]; then',
  '    echo "removing an abandoned partial download: $stale"; rm -rf "$stale"',
  '  fi',
  'done',
  'partial="$MODEL_DIR.partial-${HOSTNAME:-$$}"',
  'rm -rf "$partial" && mkdir -p "$partial" && touch "$partial/.llmops-heartbeat"',
  '(while sleep 30; do touch "$partial/.llmops-heartbeat" 2>/dev/null || exit 0; done) </dev/null >/dev/null 2>&1 &',
  'heartbeat=$!',
  'trap \'kill "$heartbeat" 2>/dev/null || true\' EXIT',
  'PARTIAL="$partial" python3 -c \'import os; from huggingface_hub import snapshot_download; snapshot_download(os.environ["HF_REPO"], revision=os.environ["HF_REVISION"], local_dir=os.environ["PARTIAL"])\'',
  'kill "$heartbeat" 2>/dev/null; wait "$heartbeat" 2>/dev/null || true',
  'rm -rf "$partial/.cache" "$partial/.llmops-heartbeat" && touch "$partial/' + COMPLETE_MARKER + '"',
  'if mv -T "$partial" "$MODEL_DIR" 2>/dev/null; then echo "model downloaded: $MODEL_DIR"; exit 0; fi',
  'rm -rf "$partial"',
  'if [ -f "$marker" ]; then echo "another pod finished the download first: $MODEL_DIR"; exit 0; fi',
  'echo "$MODEL_DIR exists but holds no finished download: remove it" >&2; exit 1',
].join('\n');

/** Partial downloads whose heartbeat is older than this are abandoned (their pod is gone). */
const STALE_MINUTES = 5;

function downloadEnv(r: Resolved): EnvVar[] {
  return [
    { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
    { name: 'HF_REPO', value: r.model.id! },
    { name: 'HF_REVISION', value: r.model.revision! },
    { name: 'HOME', value: '/tmp' },
    { name: 'MODEL_DIR', value: r.model.dir! },
    { name: 'STALE_MINUTES', value: String(STALE_MINUTES) },
    ...secretEnv(r.deploy.secrets.filter((s) => s.env === 'HF_TOKEN')),
  ];
}

const SMALL_RESOURCES = { cpu: '1', memory: '2Gi', 'ephemeral-storage': '1Gi' };

/** The container that downloads the model onto the shared volume (init container, populate Job, compile Job). */
export function downloader(r: Resolved): Container {
  return {
    name: 'model-download',
    image: r.storage.downloaderImage!,
    imagePullPolicy: 'Always',
    command: ['sh', '-c', DOWNLOAD_SCRIPT],
    env: downloadEnv(r),
    resources: { requests: { ...SMALL_RESOURCES }, limits: { ...SMALL_RESOURCES } },
    securityContext: hardenedContainerSecurity(),
    volumeMounts: [
      { name: 'model', mountPath: r.deploy.storage.path },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}

/** An init container that holds the server until a file exists on the model volume (written by a Job). */
function waitFor(r: Resolved, name: string, file: string): Container {
  return {
    name,
    image: r.storage.downloaderImage ?? r.image,
    imagePullPolicy: 'Always',
    command: ['sh', '-c', 'until [ -f "$WAIT_FOR" ]; do echo "waiting for $WAIT_FOR"; sleep 10; done'],
    env: [{ name: 'WAIT_FOR', value: file }],
    resources: guaranteedResources('100m', '64Mi', { 'ephemeral-storage': '64Mi' }),
    securityContext: hardenedContainerSecurity(),
    volumeMounts: [{ name: 'model', mountPath: r.deploy.storage.path, readOnly: true }],
  };
}

/** A Job that fills a new model volume once (idempotent: a finished download is kept), off the GPU nodes. */
function populateJob(r: Resolved): Job {
  return serviceJob(r, {
    suffix: 'model-populate',
    component: 'model-populate',
    backoffLimit: 3,
    spec: {
      restartPolicy: 'OnFailure',
      containers: [downloader(r)],
      volumes: [
        { name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } },
        { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      ],
    },
  });
}
