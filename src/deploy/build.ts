import {
  HTTP_ADD_ON,
  horizontalPodAutoscaler,
  httpScaledObject,
  prometheusAdapterRules,
  scaledObject,
  type PrometheusAdapterRules,
} from './autoscaling.js';
import { compileJob, napConfig, NAP_NO_EXISTING_NOTE, type NapConfig } from './extras.js';
import { seldonGraph, type BuiltGraph, type GraphSummary } from './graph.js';
import { kserveGraph } from './kserve-graph.js';
import type { KubeObject } from '../k8s/objects.js';
import { serviceMonitor } from './monitoring.js';
import type { Resolved } from './resolve.js';
import { modelStorage } from './storage.js';
import { deployment, networkPolicy, podDisruptionBudget, service, serviceAccount } from './workload.js';

import type { Emit } from './emit.js';

export type { Emit };

export interface BuiltManifests {
  /** Kubernetes objects, in apply order. */
  objects: KubeObject[];
  /** GKE node auto-provisioning config (`--emit nap`): not a Kubernetes object, written beside them. */
  nap: NapConfig | null;
  /** prometheus-adapter rules the HPA's external metric needs (engine hpa). */
  adapterRules: PrometheusAdapterRules | null;
  /** With deploy.graph: the runtime, and per node whether and how it autoscales. */
  graph: GraphSummary | null;
  notes: string[];
}

const APPLY_ORDER = [
  'ServiceAccount',
  'PersistentVolumeClaim',
  'Service',
  'Deployment',
  'SeldonDeployment',
  'InferenceService',
  'InferenceGraph',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'HTTPScaledObject',
  'ScaledObject',
  'HorizontalPodAutoscaler',
  'ServiceMonitor',
  'Job',
];

/** Builds every object of the deployment from the resolved inputs. Pure: the same inputs give the same objects. */
export function buildManifests(r: Resolved, emit: readonly Emit[] = []): BuiltManifests {
  const notes = [...r.notes];
  const storage = modelStorage(r);
  notes.push(...storage.notes);
  const objects: KubeObject[] = [serviceAccount(r, storage), ...storage.claims];
  let graph: BuiltGraph | null = null;
  if (r.deploy.graph) {
    graph = r.deploy.graph.runtime === 'kserve' ? kserveGraph(r, r.deploy.graph) : seldonGraph(r, r.deploy.graph);
    objects.push(...graph.objects);
    notes.push(...graph.notes);
  } else {
    objects.push(
      deployment(r, storage),
      service(r),
      podDisruptionBudget(r),
      networkPolicy(r, storage),
      ...storage.jobs,
    );
    if (r.autoscaling.engine === 'keda') objects.push(scaledObject(r));
    if (r.autoscaling.engine === 'hpa') objects.push(horizontalPodAutoscaler(r));
    if (r.deploy.monitoring.serviceMonitor) objects.push(serviceMonitor(r));
    if (r.wake?.kind === 'http-add-on') {
      objects.push(httpScaledObject(r));
      notes.push(
        `scale to zero through the KEDA HTTP add-on: route clients (Ingress, Gateway) to ${HTTP_ADD_ON.interceptor} with Host ${r.wake.hosts.join(' or ')}; the interceptor holds requests while the first pod starts`,
      );
    }
  }
  // The compile Job belongs to the config (deploy.compileJob.image): pods wait for its engine, so it is always emitted.
  if (r.engine || emit.includes('compile-job')) objects.push(compileJob(r));
  objects.sort(
    (a, b) =>
      APPLY_ORDER.indexOf(a.kind) - APPLY_ORDER.indexOf(b.kind) || a.metadata.name.localeCompare(b.metadata.name),
  );
  const adapterRules = graph ? graph.adapterRules : r.autoscaling.engine === 'hpa' ? prometheusAdapterRules(r) : null;
  if (adapterRules && !graph)
    notes.push(
      `the HPA reads external metric ${r.autoscaling.externalMetricName}: add extras/prometheus-adapter-rules.yaml to prometheus-adapter's config`,
    );
  const nap = emit.includes('nap') ? napConfig(r) : null;
  if (nap && !r.deploy.nap.existing) notes.push(NAP_NO_EXISTING_NOTE);
  return { objects, nap, adapterRules, graph: graph?.summary ?? null, notes };
}
