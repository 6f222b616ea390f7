import type { Container, EnvVar, Job, PersistentVolumeClaim, Volume, VolumeMount } from './k8s.js';
import { guaranteedResources, hardenedContainerSecurity, hardenedPodSecurity, secretEnv } from './pod.js';
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
  const none: ModelStorage = { volumes: [], mounts: [], initContainers: [], claims: [], jobs: [], podAnnotations: {}, serviceAccountAnnotations: {}, needsInternet: false };
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
    case 'gcsfuse':
      return {
        ...none,
        volumes: [
          {
            name: 'model',
            csi: { driver: 'gcsfuse.csi.storage.gke.io', readOnly: true, volumeAttributes: { bucketName: storage.bucket!, mountOptions: 'implicit-dirs' } },
          },
        ],
        mounts: [{ name: 'model', mountPath: storage.path, readOnly: true }],
        podAnnotations: { 'gke-gcsfuse/volumes': 'true' },
        serviceAccountAnnotations: storage.gcpServiceAccount ? { 'iam.gke.io/gcp-service-account': storage.gcpServiceAccount } : {},
        needsInternet: true,
      };
  }
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
        ? { dataSourceRef: { ...(source.kind === 'VolumeSnapshot' ? { apiGroup: 'snapshot.storage.k8s.io' } : {}), kind: source.kind, name: source.name } }
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
  '(while sleep 30; do touch "$partial/.llmops-heartbeat" 2>/dev/null || exit 0; done) &',
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
    { name: 'MODEL_DIR', value: r.engine?.modelDir ?? r.model.dir! },
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
  const name = `${r.name}-model-populate`;
  const labels = { ...r.labels, 'app.kubernetes.io/component': 'model-populate', 'app.kubernetes.io/instance': name };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: r.namespace, labels },
    spec: {
      backoffLimit: 3,
      activeDeadlineSeconds: 4 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'OnFailure',
          serviceAccountName: r.name,
          automountServiceAccountToken: false,
          securityContext: hardenedPodSecurity(),
          containers: [downloader(r)],
          volumes: [
            { name: 'model', persistentVolumeClaim: { claimName: modelClaimName(r) } },
            { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
          ],
        },
      },
    },
  };
}
