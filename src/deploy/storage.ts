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
  const none: ModelStorage = { volumes: [], mounts: [], initContainers: [], claims: [], podAnnotations: {}, serviceAccountAnnotations: {}, needsInternet: false };
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
