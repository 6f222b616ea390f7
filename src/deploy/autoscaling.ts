import type { HorizontalPodAutoscaler, HTTPScaledObject, ScaledObject, ScalingBehavior } from '../k8s/objects.js';
import type { Resolved } from './resolve.js';

/**
 * Fast up, slow down. Scale-up: no stabilization, up to doubling or 2 pods a minute, whichever is more. Scale-down:
 * a window at least as long as a pod takes to start (and ≥ 600 s), then one pod per few minutes, so a dip in traffic
 * never removes the GPUs a returning burst needs.
 */
export function scalingBehavior(r: Resolved): ScalingBehavior {
  const a = r.deploy.autoscaling;
  return {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Percent', value: 100, periodSeconds: 60 },
        { type: 'Pods', value: 2, periodSeconds: 60 },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: r.timing.scaleDownStabilizationSeconds,
      selectPolicy: 'Min',
      policies: [{ type: 'Pods', value: a.scaleDownPods, periodSeconds: a.scaleDownPeriodSeconds }],
    },
  };
}

const targetRef = (r: Resolved) => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: r.name });

/** A number as the autoscalers want it: a string, no float noise. */
function threshold(value: number): string {
  return String(Number(value.toFixed(3)));
}

/** The KEDA HTTP add-on's external scaler in its default install (Helm chart keda-add-ons-http in namespace keda). */
export const HTTP_ADD_ON = {
  scalerAddress: 'keda-add-ons-http-external-scaler.keda:9090',
  interceptor: 'keda-add-ons-http-interceptor-proxy.keda:8080',
  namespace: 'keda',
} as const;

/**
 * KEDA ScaledObject: a Prometheus trigger on the server's own load signal, plus, for a service that scales to zero,
 * a trigger that exists while no pod runs (the HTTP add-on's interceptor, or a request rate measured in front of the
 * pods) — the server's own series vanish with its last pod, and KEDA would read 0 for ever.
 */
export function scaledObject(r: Resolved): ScaledObject {
  const a = r.autoscaling;
  const toZero = r.replicas.min === 0;
  const triggers: ScaledObject['spec']['triggers'] = [
    {
      type: 'prometheus',
      name: 'load',
      metricType: a.metricType,
      metadata: {
        // Strictly greater than this activates a service at zero; explicit so the manifest says it.
        activationThreshold: '0',
        // KEDA reads an empty result as 0 by default, which hides a Prometheus that lost the pods' series and lets
        // the service shrink to its minimum; an error makes KEDA hold the replicas instead (fallback). At zero
        // pods the series are empty by design, so a service that scales to zero keeps the default.
        ...(toZero ? {} : { ignoreNullValues: 'false' }),
        query: a.query,
        serverAddress: r.deploy.autoscaling.prometheusAddress,
        threshold: threshold(a.target),
      },
    },
  ];
  if (r.wake?.kind === 'http-add-on') {
    triggers.push({
      type: 'external-push',
      name: 'http-requests',
      metadata: { httpScaledObject: r.name, scalerAddress: HTTP_ADD_ON.scalerAddress },
    });
  }
  if (r.wake?.kind === 'query') {
    triggers.push({
      type: 'prometheus',
      name: 'incoming-requests',
      metricType: 'AverageValue',
      metadata: {
        activationThreshold: '0',
        query: r.wake.query,
        serverAddress: r.deploy.autoscaling.prometheusAddress,
        threshold: threshold(r.wake.requestsPerReplica),
      },
    });
  }
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: r.name, namespace: r.namespace, labels: r.labels },
    spec: {
      scaleTargetRef: targetRef(r),
      // Always explicit: KEDA's default minimum is 0, which would scale a GPU service to nothing.
      minReplicaCount: r.replicas.min,
      maxReplicaCount: r.replicas.max,
      pollingInterval: r.deploy.autoscaling.pollingIntervalSeconds,
      ...(toZero ? { cooldownPeriod: r.timing.scaleDownStabilizationSeconds } : {}),
      // When Prometheus cannot answer, keep what runs (never fewer than the minimum) rather than guess. Not at a
      // minimum of 0: a fallback of 1 would keep a pod up, and one of 0 does nothing.
      ...(toZero
        ? {}
        : { fallback: { behavior: 'currentReplicasIfHigher', failureThreshold: 3, replicas: r.replicas.min } }),
      advanced: { horizontalPodAutoscalerConfig: { behavior: scalingBehavior(r) } },
      triggers,
    },
  };
}

/**
 * The HTTP add-on's routing and cold-start settings. It would create a ScaledObject of its own without our scaling
 * behaviour; the annotation leaves that to ours, which reads the add-on's request counts through `external-push`.
 */
export function httpScaledObject(r: Resolved): HTTPScaledObject {
  const wake = r.wake;
  if (wake?.kind !== 'http-add-on') throw new Error('httpScaledObject needs deploy.autoscaling.wake.httpAddOn');
  return {
    apiVersion: 'http.keda.sh/v1alpha1',
    kind: 'HTTPScaledObject',
    metadata: {
      name: r.name,
      namespace: r.namespace,
      labels: r.labels,
      annotations: { 'httpscaledobject.keda.sh/skip-scaledobject-creation': 'true' },
    },
    spec: {
      hosts: wake.hosts,
      ...(wake.pathPrefixes ? { pathPrefixes: wake.pathPrefixes } : {}),
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: r.name, service: r.name, port: r.serve.port },
      replicas: { min: r.replicas.min, max: r.replicas.max },
      scalingMetric: { concurrency: { targetValue: wake.concurrency } },
      scaledownPeriod: r.timing.scaleDownStabilizationSeconds,
      timeouts: {
        // The interceptor holds a request while the first pod starts: as long as a pod may take to become ready.
        conditionWait: `${r.timing.startupBudgetSeconds}s`,
        // A completion that does not stream sends its headers only when the whole answer is generated.
        responseHeader: `${RESPONSE_HEADER_TIMEOUT_SECONDS}s`,
      },
    },
  };
}

const RESPONSE_HEADER_TIMEOUT_SECONDS = 600;

/**
 * autoscaling/v2 HPA on an external metric served by prometheus-adapter; `prometheusAdapterRules` is the rule that
 * exposes it (written as prometheus-adapter-rules.yaml), and the query is in the `llmops.dev/prometheus-query` annotation.
 */
export function horizontalPodAutoscaler(r: Resolved): HorizontalPodAutoscaler {
  const a = r.autoscaling;
  const value = threshold(a.target);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name: r.name,
      namespace: r.namespace,
      labels: r.labels,
      annotations: { 'llmops.dev/prometheus-query': a.query },
    },
    spec: {
      scaleTargetRef: targetRef(r),
      minReplicas: Math.max(1, r.replicas.min),
      maxReplicas: r.replicas.max,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: a.externalMetricName },
            target:
              a.metricType === 'AverageValue'
                ? { type: 'AverageValue', averageValue: value }
                : { type: 'Value', value },
          },
        },
      ],
      behavior: scalingBehavior(r),
    },
  };
}

/** prometheus-adapter config (`externalRules`; Helm chart value `rules.external`) exposing the HPA's external metric. */
export interface PrometheusAdapterRules {
  externalRules: {
    seriesQuery: string;
    resources: { namespaced: boolean };
    name: { as: string };
    metricsQuery: string;
  }[];
}

export function prometheusAdapterRules(r: Resolved): PrometheusAdapterRules {
  const a = r.autoscaling;
  return {
    externalRules: [
      {
        seriesQuery: a.seriesName,
        // The query already selects this service's series: the rule is not tied to the HPA's namespace label.
        resources: { namespaced: false },
        name: { as: a.externalMetricName },
        metricsQuery: a.query,
      },
    ],
  };
}
