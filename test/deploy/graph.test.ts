import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import { SELDON_LICENSE_NOTE, seldonDeploymentName } from '../../src/deploy/graph.js';
import type { InferenceGraph, InferenceService, SeldonDeployment } from '../../src/k8s/objects.js';
import { lintObjects } from '../../src/deploy/lint/index.js';
import {
  exampleConfig,
  loadExample,
  officialSchemas,
  officialValidator,
  runCli,
  SCHEMAS_MISSING,
  SECRET_ENV,
  tempDir,
  writeConfig,
} from './helpers.js';

/** The issue's example: encoder → combiner → [llm on a GPU (vLLM), classifier]. */
const ROOT = {
  name: 'encoder',
  type: 'TRANSFORMER',
  image: 'ghcr.io/acme/encoder:2.0.1',
  children: [
    {
      name: 'combiner',
      type: 'COMBINER',
      image: 'ghcr.io/acme/combiner:2.0.1',
      children: [
        {
          name: 'llm',
          type: 'MODEL',
          image: 'ghcr.io/acme/tiny-gpt-server:1.4.2',
          template: 'vllm',
          port: 8000,
          gpu: { count: 1 },
          resources: { cpu: '4', memory: '16Gi' },
          secrets: ['HF_TOKEN'],
        },
        { name: 'classifier', type: 'MODEL', image: 'ghcr.io/acme/classifier:0.3.0', replicas: { min: 1, max: 2 } },
      ],
    },
  ],
};

/** The example config as a graph: no serve.image (each node has its own). */
function graphConfig(runtime: 'seldon-v1' | 'kserve', engine = 'keda'): Record<string, unknown> {
  const raw = exampleConfig({ strategy: 'baked', engine, extra: { graph: { runtime, root: structuredClone(ROOT) } } });
  delete (raw.serve as Record<string, unknown>).image;
  return raw;
}

async function strictlyValid(objects: readonly { kind: string }[]): Promise<void> {
  const validator = await officialValidator();
  for (const object of objects) assert.deepEqual(validator.validate(object as never), [], `${object.kind} is invalid`);
  assert.deepEqual(lintObjects(objects.map((object) => ({ object }))), []);
}

test(
  'seldon-v1: one strictly valid SeldonDeployment, no serve.image needed, a component per node with probes, /dev/shm, secrets, PDB',
  { skip: SCHEMAS_MISSING },
  async () => {
    const config = loadExample(graphConfig('seldon-v1'), SECRET_ENV);
    const result = await deploy({ config, schemas: await officialSchemas(), env: SECRET_ENV });
    const seldon = result.objects.find((o) => o.kind === 'SeldonDeployment') as SeldonDeployment | undefined;
    assert.ok(seldon, 'a SeldonDeployment is emitted');
    assert.equal(seldon.apiVersion, 'machinelearning.seldon.io/v1');
    await strictlyValid(result.objects);
    assert.deepEqual(
      result.objects.map((o) => o.kind).sort(),
      ['SeldonDeployment', 'ServiceAccount'],
      'the operator creates the Deployments, Services, ScaledObjects and PDBs',
    );

    const predictor = seldon.spec.predictors[0]!;
    const shape = (node: typeof predictor.graph): unknown => ({
      [`${node.name}:${node.type}`]: node.children.map(shape),
    });
    assert.deepEqual(shape(predictor.graph), {
      'encoder:TRANSFORMER': [{ 'combiner:COMBINER': [{ 'llm:MODEL': [] }, { 'classifier:MODEL': [] }] }],
    });
    assert.deepEqual(
      predictor.componentSpecs.map((c) => c.spec.containers[0]!.name),
      ['encoder', 'combiner', 'llm', 'classifier'],
    );

    const [encoder, , llm, classifier] = predictor.componentSpecs;
    const llmC = llm!.spec.containers[0]!;
    assert.equal(llmC.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.deepEqual(llm!.spec.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
    // A port named http is the one Seldon serves the node on (and passes as PREDICTIVE_UNIT_HTTP_SERVICE_PORT).
    assert.deepEqual(llmC.ports, [{ containerPort: 8000, name: 'http', protocol: 'TCP' }]);
    assert.deepEqual(llmC.readinessProbe?.httpGet, { path: '/health', port: 8000 });
    assert.deepEqual(llmC.livenessProbe?.httpGet, { path: '/health', port: 8000 });
    assert.ok(llmC.startupProbe, 'the GPU node waits for its model load');
    assert.deepEqual(
      llmC.volumeMounts?.map((m) => m.mountPath),
      ['/dev/shm', '/tmp'],
    );
    assert.deepEqual(llm!.spec.volumes?.[0], { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } });
    assert.deepEqual(
      llmC.env,
      [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { key: 'token', name: 'hf-token' } } }],
      'only the secrets the node asks for',
    );

    const encC = encoder!.spec.containers[0]!;
    assert.equal(encC.resources?.limits?.['nvidia.com/gpu'], undefined, 'the encoder stays on CPU and scales alone');
    assert.equal(encoder!.spec.nodeSelector, undefined);
    assert.deepEqual(
      encC.ports,
      [{ containerPort: 9000, name: 'http', protocol: 'TCP' }],
      "Seldon's wrapper port by default",
    );
    assert.deepEqual(encC.readinessProbe?.httpGet, { path: '/health/status', port: 9000 });
    assert.deepEqual(
      encC.volumeMounts?.map((m) => m.mountPath),
      ['/tmp'],
      'no /dev/shm without a GPU',
    );
    assert.deepEqual(
      encC.env?.map((e) => e.name),
      ['API_KEYS', 'HF_TOKEN'],
      'all of deploy.secrets by default, by reference',
    );

    // Autoscaling: the vLLM node on its own queue, the Seldon-wrapper nodes say plainly they are not autoscaled.
    const workload = seldonDeploymentName('tiny-gpt', 'default', 2, 'llm');
    assert.equal(workload, 'tiny-gpt-default-2-llm');
    const trigger = llm!.kedaSpec?.triggers[0];
    assert.equal(
      trigger?.metadata.query,
      `sum(vllm:num_requests_waiting{namespace="llm",pod=~"${workload}-.*"} + vllm:num_requests_running{namespace="llm",pod=~"${workload}-.*"})`,
    );
    assert.equal(trigger?.metricType, 'AverageValue');
    assert.equal(llm!.kedaSpec?.maxReplicaCount, 8);
    assert.ok(llm!.kedaSpec?.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds);
    assert.equal(encoder!.kedaSpec, undefined);
    assert.equal(encoder!.replicas, 2);
    assert.equal(classifier!.replicas, 1, "the node's own replica bounds");
    for (const c of predictor.componentSpecs) assert.deepEqual(c.pdbSpec, { maxUnavailable: 1 });
    assert.equal(predictor.replicas, undefined);
    assert.ok(
      result.notes.some((n) =>
        /graph node encoder is NOT autoscaled \(its server \(template seldon\) exports no queue-depth metric/.test(n),
      ),
    );
    assert.ok(
      result.notes.some((n) => /graph node llm: autoscaled by keda on queue-depth \(target 4\), 2–8 replicas/.test(n)),
    );
    assert.deepEqual(
      result.graph?.components.map((c) => [c.node, c.scaling.autoscaled]),
      [
        ['encoder', false],
        ['combiner', false],
        ['llm', true],
        ['classifier', false],
      ],
    );
    assert.ok(result.notes.includes(SELDON_LICENSE_NOTE));
  },
);

test(
  'seldon-v1 with engine hpa: hpaSpec with autoscaling/v2 metrics, adapter rules under extras/, and the missing behaviour said plainly',
  { skip: SCHEMAS_MISSING },
  async () => {
    const config = loadExample(graphConfig('seldon-v1', 'hpa'));
    const out = `${await tempDir()}/out`;
    const result = await deploy({ config, schemas: await officialSchemas(), out });
    await strictlyValid(result.objects);
    const seldon = result.objects.find((o) => o.kind === 'SeldonDeployment') as SeldonDeployment;
    const llm = seldon.spec.predictors[0]!.componentSpecs[2]!;
    assert.deepEqual(llm.hpaSpec?.metricsv2[0]?.external.metric, { name: 'llmops_tiny_gpt_llm_queue_depth' });
    assert.equal(llm.hpaSpec?.minReplicas, 2);
    assert.ok(result.files?.includes('extras/prometheus-adapter-rules.yaml'));
    assert.ok(result.notes.some((n) => /hpaSpec has no scaling behaviour/.test(n)));
  },
);

test(
  'kserve: an InferenceService per node + PDB, and an InferenceGraph wiring them by node type; all strictly valid',
  { skip: SCHEMAS_MISSING },
  async () => {
    const config = loadExample(graphConfig('kserve'), SECRET_ENV);
    const result = await deploy({ config, schemas: await officialSchemas(), env: SECRET_ENV });
    await strictlyValid(result.objects);
    const kinds = result.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(kinds, [
      'ServiceAccount/tiny-gpt',
      'InferenceService/tiny-gpt-classifier',
      'InferenceService/tiny-gpt-combiner',
      'InferenceService/tiny-gpt-encoder',
      'InferenceService/tiny-gpt-llm',
      'InferenceGraph/tiny-gpt',
      'PodDisruptionBudget/tiny-gpt-classifier',
      'PodDisruptionBudget/tiny-gpt-combiner',
      'PodDisruptionBudget/tiny-gpt-encoder',
      'PodDisruptionBudget/tiny-gpt-llm',
    ]);
    const ig = result.objects.find((o) => o.kind === 'InferenceGraph') as InferenceGraph;
    assert.deepEqual(ig.spec.nodes, {
      'combiner-inputs': {
        routerType: 'Ensemble',
        steps: [
          { name: 'llm', serviceName: 'tiny-gpt-llm' },
          { name: 'classifier', serviceName: 'tiny-gpt-classifier' },
        ],
      },
      root: {
        routerType: 'Sequence',
        steps: [
          { name: 'encoder', serviceName: 'tiny-gpt-encoder' },
          { name: 'combiner-inputs', nodeName: 'combiner-inputs', data: '$response' },
          { name: 'combiner', serviceName: 'tiny-gpt-combiner', data: '$response' },
        ],
      },
    });
    const llm = result.objects.find(
      (o) => o.metadata.name === 'tiny-gpt-llm' && o.kind === 'InferenceService',
    ) as InferenceService;
    const p = llm.spec.predictor;
    assert.equal(p.containers[0]!.name, 'kserve-container');
    assert.deepEqual(p.containers[0]!.readinessProbe?.httpGet, { path: '/health', port: 8000 });
    assert.equal(llm.metadata.annotations?.['serving.kserve.io/autoscalerClass'], 'keda');
    assert.equal(llm.metadata.annotations?.['serving.kserve.io/deploymentMode'], 'RawDeployment');
    const metric = p.autoScaling?.metrics[0]?.external;
    assert.match(metric?.metric.query ?? '', /pod=~"tiny-gpt-llm-predictor-\.\*"/);
    assert.deepEqual(metric?.target, { type: 'Value', value: '4' });
    // On KServe a node's server defaults to the llmops scaffold (template node), which exports its queue depth.
    assert.ok(result.graph?.components.every((c) => c.scaling.autoscaled));
    const classifier = result.objects.find(
      (o) => o.metadata.name === 'tiny-gpt-classifier' && o.kind === 'InferenceService',
    ) as InferenceService;
    assert.deepEqual([classifier.spec.predictor.minReplicas, classifier.spec.predictor.maxReplicas], [1, 2]);
    assert.ok(!result.notes.includes(SELDON_LICENSE_NOTE));
  },
);

test(
  'kserve rejects a ROUTER (exit 2, one line) and says a node with hpa is not autoscaled',
  { skip: SCHEMAS_MISSING },
  async () => {
    const dir = await tempDir();
    const raw = graphConfig('kserve');
    (raw.deploy as { graph: { root: { children: { type: string }[] } } }).graph.root.children[0]!.type = 'ROUTER';
    await writeConfig(dir, raw);
    const bad = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /graph node combiner is a ROUTER, which KServe cannot run/);

    const result = await deploy({
      config: loadExample(graphConfig('kserve', 'hpa')),
      schemas: await officialSchemas(),
    });
    assert.ok(
      result.notes.some((n) =>
        /graph node llm is NOT autoscaled \(KServe's hpa autoscaler class scales only on CPU or memory/.test(n),
      ),
    );
    const encoder = result.objects.find(
      (o) => o.metadata.name === 'tiny-gpt-encoder' && o.kind === 'InferenceService',
    ) as InferenceService;
    assert.equal(encoder.metadata.annotations?.['serving.kserve.io/autoscalerClass'], 'none');
    assert.deepEqual([encoder.spec.predictor.minReplicas, encoder.spec.predictor.maxReplicas], [2, 2]);
  },
);

test(
  'deterministic: the same graph config gives byte-identical YAML for both runtimes',
  { skip: SCHEMAS_MISSING },
  async () => {
    for (const runtime of ['seldon-v1', 'kserve'] as const) {
      const a = await deploy({ config: loadExample(graphConfig(runtime)), schemas: await officialSchemas() });
      const b = await deploy({ config: loadExample(graphConfig(runtime)), schemas: await officialSchemas() });
      assert.equal(a.yaml, b.yaml);
    }
  },
);

test('the CLI prints per-node autoscaling instead of the single-server line, the licence note, and rejects a duplicated node name (exit 2, key named)', async () => {
  const dir = await tempDir();
  await writeConfig(dir, graphConfig('seldon-v1'));
  const ok = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /kind: SeldonDeployment/);
  assert.match(ok.stderr, /Business Source License 1\.1/);
  assert.match(ok.stderr, /graph node encoder is NOT autoscaled/);
  assert.doesNotMatch(ok.stderr, /^autoscaling \(keda\)/m);

  const dup = graphConfig('seldon-v1');
  const root = (dup.deploy as { graph: { root: typeof ROOT } }).graph.root;
  const copy = structuredClone(root);
  copy.children[0]!.children[1]!.name = 'llm';
  (dup.deploy as { graph: { root: typeof ROOT } }).graph.root = copy;
  await writeConfig(dir, dup);
  const bad = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /`deploy\.graph\.root\.children\.0\.children\.1\.name` llm is used by two graph nodes/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test("a graph scales each node on its own server's metrics: serve.template's (here node, with no KV-cache metric) does not apply", async () => {
  const raw = graphConfig('seldon-v1');
  Object.assign((raw.deploy as Record<string, Record<string, unknown>>).autoscaling!, {
    metric: 'kv-cache',
    target: 80,
  });
  const result = await deploy({ config: loadExample(raw) });
  assert.ok(
    result.notes.some((n) => /graph node encoder is NOT autoscaled/.test(n)),
    'the Seldon wrapper has no KV-cache metric: said per node',
  );
  assert.ok(result.objects.some((o) => o.kind === 'SeldonDeployment'));
});
