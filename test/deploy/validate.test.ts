import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMITTED_KINDS } from '../../src/deploy/index.js';
import { loadBundledSchemas, StrictValidator, subsetSchemas } from '../../src/k8s/validate/index.js';
import type { KubeObject } from '../../src/k8s/objects.js';
import { officialSchemas, officialValidator, SCHEMAS_MISSING } from './helpers.js';

const deployment = (container: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', namespace: 'ns' },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '25%' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i:1', ...container }] } },
      ...extra,
    },
  }) as unknown as KubeObject;

test(
  'the strict validator rejects unknown fields, missing required fields, bad quantities and wrong types',
  { skip: SCHEMAS_MISSING },
  async () => {
    const v = await officialValidator();
    assert.deepEqual(
      v.validate(deployment({ resources: { limits: { cpu: '500m', memory: '16Gi', 'nvidia.com/gpu': 1 } } })),
      [],
    );
    assert.deepEqual(v.validate(deployment({ imagePullPolicy: 'Always', bogus: true })), [
      { object: 'Deployment/ns/x', path: '/spec/template/spec/containers/0', message: 'unknown field `bogus`' },
    ]);
    const noName = v.validate(deployment({ name: undefined }));
    assert.ok(noName.some((e) => e.message === 'missing required field `name`'));
    assert.ok(
      v
        .validate(deployment({ resources: { limits: { cpu: 'four' } } }))
        .some((e) => e.path === '/spec/template/spec/containers/0/resources/limits/cpu'),
    );
    assert.ok(v.validate(deployment({}, { replicas: '2' })).some((e) => e.path === '/spec/replicas'));
    assert.ok(
      v.validate(deployment({ ports: [{ containerPort: 1.5 }] })).length > 0,
      'int32 fields take integers only',
    );
    assert.ok(
      v.validate(deployment({}, { strategy: { rollingUpdate: { maxSurge: true } } })).length > 0,
      'int-or-string is not boolean',
    );
    // Custom resources: closed like built-ins, and their metadata is checked as ObjectMeta.
    const so = (extra: Record<string, unknown>) =>
      ({
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name: 'x', ...extra },
        spec: { scaleTargetRef: { name: 'x' }, triggers: [{ type: 'prometheus', metadata: {} }] },
      }) as unknown as KubeObject;
    assert.deepEqual(v.validate(so({})), []);
    assert.deepEqual(
      v.validate(so({ lables: {} })).map((e) => e.message),
      ['unknown field `lables`'],
    );
    assert.match(
      v.validate({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })[0]!.message,
      /no schema/,
    );
  },
);

test(
  'the bundled schema subset equals the official schemas for every kind deploy emits',
  { skip: SCHEMAS_MISSING },
  async () => {
    const expected = subsetSchemas(await officialSchemas(), [...EMITTED_KINDS]);
    const bundled = await loadBundledSchemas();
    assert.deepEqual(
      bundled,
      JSON.parse(JSON.stringify(expected)),
      'regenerate with: node scripts/k8s-schemas-subset.mjs',
    );
    const validator = await StrictValidator.create(bundled);
    for (const kind of EMITTED_KINDS) {
      const [apiVersion, k] = kind.split(' ');
      assert.ok(validator.knows({ apiVersion, kind: k }), kind);
    }
  },
);
