import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deploy } from '../../src/deploy/index.js';
import { SELDON_LICENSE_NOTE } from '../../src/deploy/graph.js';
import type { SeldonDeployment } from '../../src/deploy/k8s.js';
import { exampleConfig, loadExample, officialSchemas, officialValidator, runCli, SCHEMAS_MISSING, tempDir, writeConfig } from './helpers.js';

/** The example: encoder → combiner → [llm on a GPU, classifier]. */
const GRAPH = {
  name: 'encoder',
  type: 'TRANSFORMER',
  image: 'ghcr.io/acme/encoder:2.0.1',
  children: [
    {
      name: 'combiner',
      type: 'COMBINER',
      image: 'ghcr.io/acme/combiner:2.0.1',
      children: [
        { name: 'llm', type: 'MODEL', image: 'ghcr.io/acme/tiny-gpt-server:1.4.2', gpu: { count: 1 }, resources: { cpu: '4', memory: '16Gi' } },
        { name: 'classifier', type: 'MODEL', image: 'ghcr.io/acme/classifier:0.3.0' },
      ],
    },
  ],
};

test('the graph example becomes one strictly valid SeldonDeployment with a component per node', { skip: SCHEMAS_MISSING }, async () => {
  const config = loadExample(exampleConfig({ strategy: 'baked', extra: { graph: GRAPH } }));
  const result = await deploy({ config, schemas: await officialSchemas() });
  const seldon = result.objects.find((o) => o.kind === 'SeldonDeployment') as SeldonDeployment | undefined;
  assert.ok(seldon, 'a SeldonDeployment is emitted');
  assert.equal(seldon.apiVersion, 'machinelearning.seldon.io/v1');
  assert.deepEqual((await officialValidator()).validate(seldon), []);
  assert.deepEqual(result.objects.map((o) => o.kind).sort(), ['SeldonDeployment', 'ServiceAccount'], 'the operator creates the Deployments and Services');

  const predictor = seldon.spec.predictors[0]!;
  const shape = (node: typeof predictor.graph): unknown => ({ [`${node.name}:${node.type}`]: node.children.map(shape) });
  assert.deepEqual(shape(predictor.graph), { 'encoder:TRANSFORMER': [{ 'combiner:COMBINER': [{ 'llm:MODEL': [] }, { 'classifier:MODEL': [] }] }] });
  assert.deepEqual(predictor.componentSpecs.map((c) => c.spec.containers[0]!.name), ['encoder', 'combiner', 'llm', 'classifier']);
  const llm = predictor.componentSpecs[2]!.spec;
  assert.equal(llm.containers[0]!.resources?.limits?.['nvidia.com/gpu'], '1');
  assert.deepEqual(llm.nodeSelector, { 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
  assert.ok(llm.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
  const encoder = predictor.componentSpecs[0]!.spec;
  assert.equal(encoder.containers[0]!.resources?.limits?.['nvidia.com/gpu'], undefined, 'the encoder stays on CPU and scales alone');
  assert.equal(encoder.nodeSelector, undefined);
  assert.ok(result.notes.includes(SELDON_LICENSE_NOTE));
});

test('the CLI prints the Seldon licence note and rejects a graph with a duplicated node name (exit 2, key named)', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked', extra: { graph: GRAPH } }));
  const ok = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /kind: SeldonDeployment/);
  assert.match(ok.stderr, /Business Source License 1\.1/);

  const dup = structuredClone(GRAPH);
  dup.children[0]!.children[1]!.name = 'llm';
  await writeConfig(dir, exampleConfig({ strategy: 'baked', extra: { graph: dup } }));
  const bad = runCli(['deploy', '-o', 'yaml'], { cwd: dir });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /`deploy\.graph\.children\.0\.children\.1\.name` llm is used by two graph nodes/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});
