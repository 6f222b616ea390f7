import type { HorizontalPodAutoscaler, ScaledObject, ScalingBehavior } from './k8s.js';
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

/** KEDA ScaledObject with a Prometheus trigger on the server's own load signal. */
export function scaledObject(r: Resolved): ScaledObject {
  const a = r.autoscaling;
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
      ...(r.replicas.min === 0 ? { cooldownPeriod: r.timing.scaleDownStabilizationSeconds } : {}),
      advanced: { horizontalPodAutoscalerConfig: { behavior: scalingBehavior(r) } },
      triggers: [
        {
          type: 'prometheus',
          metricType: a.metricType,
          metadata: {
            query: a.query,
            serverAddress: r.deploy.autoscaling.prometheusAddress,
            threshold: threshold(a.target),
          },
        },
      ],
    },
  };
}

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
    metadata: { name: r.name, namespace: r.namespace, labels: r.labels, annotations: { 'llmops.dev/prometheus-query': a.query } },
    spec: {
      scaleTargetRef: targetRef(r),
      minReplicas: Math.max(1, r.replicas.min),
      maxReplicas: r.replicas.max,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: a.externalMetricName },
            target: a.metricType === 'AverageValue' ? { type: 'AverageValue', averageValue: value } : { type: 'Value', value },
          },
        },
      ],
      behavior: scalingBehavior(r),
    },
  };
}

/** prometheus-adapter config (`externalRules`; Helm chart value `rules.external`) exposing the HPA's external metric. */
export interface PrometheusAdapterRules {
  externalRules: { seriesQuery: string; resources: { namespaced: boolean }; name: { as: string }; metricsQuery: string }[];
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
