import type { ServiceMonitor } from '../k8s/objects.js';
import type { Resolved } from './resolve.js';

/** Prometheus Operator scrape config for the server's /metrics (the autoscaler's queries read these series). */
export function serviceMonitor(r: Resolved): ServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: r.name, namespace: r.namespace, labels: r.labels },
    spec: {
      selector: { matchLabels: r.selector },
      namespaceSelector: { matchNames: [r.namespace] },
      endpoints: [
        {
          port: r.metricsPort === null ? 'http' : 'metrics',
          path: r.paths.metrics,
          interval: r.deploy.monitoring.interval,
          scheme: 'http',
        },
      ],
    },
  };
}
