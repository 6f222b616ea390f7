import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import type { HTTPScaledObject, NetworkPolicy, ScaledObject } from '../../src/k8s/objects.js';
import {
  exampleConfig,
  loadExample,
  officialSchemas,
  officialValidator,
  runCli,
  SCHEMAS_MISSING,
  tempDir,
  writeConfig,
} from './helpers.js';

function toZero(wake?: Record<string, unknown>): Record<string, unknown> {
  return exampleConfig({
    strategy: 'baked',
    extra: {
      replicas: { min: 0, max: 4 },
      autoscaling: { engine: 'keda', metric: 'queue-depth', target: 4, ...(wake ? { wake } : {}) },
    },
  });
}

describe('scale to zero', () => {
  test("min 0 with only the pods' own metric is exit 2 in one line saying why", async () => {
    const dir = await tempDir();
    await writeConfig(dir, toZero());
    const run = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /deploy\.replicas\.min.*metrics vanish at zero pods.*deploy\.autoscaling\.wake/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
  });

  test(
    'with the KEDA HTTP add-on: a valid HTTPScaledObject, our ScaledObject reads its requests, the interceptor may call the pods',
    { skip: SCHEMAS_MISSING },
    async () => {
      const config = loadExample(toZero({ httpAddOn: { hosts: ['chat.acme.dev'], pathPrefixes: ['/v1'] } }));
      const result = await deploy({ config, schemas: await officialSchemas() });
      const validator = await officialValidator();
      for (const object of result.objects)
        assert.deepEqual(validator.validate(object), [], `${object.kind} is invalid`);

      const http = result.objects.find((o) => o.kind === 'HTTPScaledObject') as HTTPScaledObject;
      assert.ok(http, 'an HTTPScaledObject');
      assert.equal(
        http.metadata.annotations!['httpscaledobject.keda.sh/skip-scaledobject-creation'],
        'true',
        'one ScaledObject, with our behaviour',
      );
      assert.deepEqual(http.spec.scaleTargetRef, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'tiny-gpt',
        service: 'tiny-gpt',
        port: 8000,
      });
      assert.deepEqual(http.spec.replicas, { min: 0, max: 4 });
      assert.deepEqual(http.spec.hosts, ['chat.acme.dev']);
      // The interceptor holds the first request for as long as a pod may take to start.
      assert.equal(http.spec.timeouts.conditionWait, `${result.timing.startupBudgetSeconds}s`);

      const scaled = result.objects.filter((o) => o.kind === 'ScaledObject') as ScaledObject[];
      assert.equal(scaled.length, 1);
      const spec = scaled[0]!.spec;
      assert.equal(spec.minReplicaCount, 0);
      assert.deepEqual(
        spec.triggers.map((t) => t.type),
        ['prometheus', 'external-push'],
      );
      assert.deepEqual(spec.triggers[1]!.metadata, {
        httpScaledObject: 'tiny-gpt',
        scalerAddress: 'keda-add-ons-http-external-scaler.keda:9090',
      });
      assert.equal(spec.fallback, undefined, 'no fallback at zero: it would keep a pod up');
      assert.equal(spec.triggers[0]!.metadata.ignoreNullValues, undefined, 'an empty series at zero pods reads as 0');
      assert.equal(spec.cooldownPeriod, result.timing.scaleDownStabilizationSeconds);

      const policy = result.objects.find((o) => o.kind === 'NetworkPolicy') as NetworkPolicy;
      const peers = policy.spec.ingress[0]!.from.map(
        (p) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'],
      );
      assert.ok(peers.includes('keda'), 'the interceptor (namespace keda) reaches the pods');
      assert.ok(
        result.notes.some((n) => /keda-add-ons-http-interceptor-proxy\.keda:8080/.test(n)),
        'says where to route clients',
      );
    },
  );

  test(
    'with a request rate measured in front of the pods: a second trigger that exists at zero pods',
    { skip: SCHEMAS_MISSING },
    async () => {
      const query = 'sum(rate(nginx_ingress_controller_requests{exported_service="tiny-gpt"}[2m]))';
      const result = await deploy({
        config: loadExample(toZero({ query, requestsPerReplica: 6 })),
        schemas: await officialSchemas(),
      });
      const spec = (result.objects.find((o) => o.kind === 'ScaledObject') as ScaledObject).spec;
      assert.deepEqual(spec.triggers[1], {
        type: 'prometheus',
        name: 'incoming-requests',
        metricType: 'AverageValue',
        metadata: {
          activationThreshold: '0',
          query,
          serverAddress: 'http://prometheus-operated.monitoring.svc:9090',
          threshold: '6',
        },
      });
      assert.ok(!result.objects.some((o) => o.kind === 'HTTPScaledObject'));
      await assert.rejects(deploy({ config: loadExample(toZero({ query })) }), /wake\.requestsPerReplica/);
    },
  );

  test('wake needs exactly one signal, and the HTTP add-on needs KEDA', () => {
    assert.throws(() => loadExample(toZero({})), /needs exactly one of httpAddOn or query/);
    assert.throws(
      () => loadExample(toZero({ query: 'x', httpAddOn: { hosts: ['a'] } })),
      /needs exactly one of httpAddOn or query/,
    );
  });

  test('a service that never scales to zero holds its replicas when Prometheus fails (fallback), and reads a missing series as an error', async () => {
    const result = await deploy({ config: loadExample(exampleConfig({ strategy: 'baked' })) });
    const spec = (result.objects.find((o) => o.kind === 'ScaledObject') as ScaledObject).spec;
    assert.deepEqual(spec.fallback, { behavior: 'currentReplicasIfHigher', failureThreshold: 3, replicas: 2 });
    assert.equal(spec.triggers[0]!.metadata.ignoreNullValues, 'false');
    assert.equal(spec.triggers[0]!.metadata.activationThreshold, '0');
  });
});
