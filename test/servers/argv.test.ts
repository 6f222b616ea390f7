import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVER_FACTS } from '../../src/deploy/facts.js';
import { isLlmopsError } from '../../src/errors.js';
import { engineArgs, type ScaffoldContext } from '../../src/scaffold/generators.js';
import { SERVER_IMAGES as ENGINE_IMAGES } from '../../src/servers/catalog.js';
import { checkServerArgv, loadContract, SERVER_NAMES, type ServerName } from '../../src/servers/argv.js';

function context(kind: 'hub' | 'local'): ScaffoldContext {
  return {
    name: 'svc',
    template: 'vllm',
    port: 8000,
    image: 'svc:latest',
    model: {
      kind,
      source: 'org/model',
      dir: null,
      copied: false,
      artifact: null,
      config: { max_position_embeddings: 4096 },
      revision: 'abc123',
    },
    packageRoot: '.',
  };
}

/** Asserts a usage error (exit 2) whose message contains every fragment. */
function refuses(server: ServerName, argv: string[], ...fragments: string[]): void {
  assert.throws(
    () => checkServerArgv(server, argv),
    (error: unknown) => {
      assert.ok(isLlmopsError(error), String(error));
      assert.equal(error.exitCode, 2);
      for (const fragment of fragments)
        assert.ok(error.message.includes(fragment), `${error.message} lacks ${fragment}`);
      return true;
    },
  );
}

describe('server argv contracts', () => {
  for (const template of ['vllm', 'tgi', 'trtllm'] as const) {
    for (const kind of ['hub', 'local'] as const) {
      it(`accepts the ${template} command line engineArgs emits (${kind} model)`, () => {
        checkServerArgv(template, engineArgs(template, { ...context(kind), template }));
      });
    }
  }

  it('accepts the triton command line the scaffold emits', () => {
    checkServerArgv('triton', ['tritonserver', '--model-repository=/models', '--exit-timeout-secs=30']);
  });

  it('names the unknown flag, the server and version, and the closest flag', () => {
    refuses(
      'vllm',
      ['--model', 'm', '--max-model-length', '4096'],
      'vLLM v0.11.0 has no flag --max-model-length',
      'did you mean --max-model-len?',
    );
    refuses('tgi', ['--model-id', 'm', '--max-model-len', '4096'], 'TGI v3.3.6 has no flag --max-model-len');
    refuses(
      'trtllm',
      ['trtllm-serve', 'm', '--tp-size', '2'],
      'TensorRT-LLM v1.0.0 has no flag --tp-size',
      'did you mean --tp_size?',
    );
    refuses('triton', ['--model-repo=/models'], 'Triton v2.54.0 has no flag --model-repo');
  });

  it('takes --flag=value and --flag value alike', () => {
    checkServerArgv('vllm', ['--model=m', '--max-model-len=4096', '--port', '8000']);
    checkServerArgv('tgi', ['--model-id=m', '--num-shard', '2']);
    checkServerArgv('trtllm', ['trtllm-serve', 'm', '--tp_size=2']);
  });

  it('treats _ and - alike in vLLM flag names, and only there', () => {
    checkServerArgv('vllm', ['--model', 'm', '--max_model_len', '4096', '--gpu_memory_utilization=0.8']);
    refuses('tgi', ['--model_id', 'm'], 'has no flag --model_id');
  });

  it('knows boolean flags and their --no- forms', () => {
    checkServerArgv('vllm', [
      '--model',
      'm',
      '--enable-prefix-caching',
      '--no-enable-prefix-caching',
      '--trust-remote-code',
      '--port',
      '8000',
    ]);
    checkServerArgv('vllm', ['--model', 'm', '--no_enable_prefix_caching']);
    checkServerArgv('tgi', ['--model-id', 'm', '--trust-remote-code', '--port', '8080']);
    checkServerArgv('trtllm', ['trtllm-serve', 'serve', 'm', '--trust_remote_code']);
    refuses('vllm', ['--model', 'm', '--no-max-model-len'], 'has no flag --no-max-model-len');
    refuses('tgi', ['--model-id', 'm', '--trust-remote-code=true'], 'takes no value');
  });

  it('refuses a value-taking flag left last without a value', () => {
    refuses('vllm', ['--model', 'm', '--max-model-len'], '--max-model-len needs a value');
    refuses('tgi', ['--model-id'], '--model-id needs a value');
    refuses('triton', ['--model-repository'], '--model-repository needs a value');
  });

  it('counts positional arguments as each parser does', () => {
    checkServerArgv('vllm', ['serve', 'org/model', '--port', '8000']);
    refuses('vllm', ['serve', 'org/model', '--model', 'org/model'], 'refuses --model');
    refuses('trtllm', ['trtllm-serve', '--port', '8000'], 'needs MODEL');
    refuses('tgi', ['org/model'], 'no positional arguments');
  });

  it('records, for each server, the tag of the image llmops deploys', () => {
    const imageTag = (image: string) => image.slice(image.lastIndexOf(':') + 1);
    assert.equal(loadContract('vllm').tag, imageTag(ENGINE_IMAGES.vllm));
    assert.equal(loadContract('tgi').tag, `v${imageTag(ENGINE_IMAGES.tgi)}`);
    assert.equal(loadContract('trtllm').tag, `v${imageTag(ENGINE_IMAGES.trtllm)}`);
    // Triton's 25.01 container is server release 2.54.0.
    assert.equal(imageTag(ENGINE_IMAGES.triton), '25.01-py3');
    assert.equal(loadContract('triton').tag, 'v2.54.0');
    for (const server of SERVER_NAMES) assert.equal(loadContract(server).image, ENGINE_IMAGES[server]);
  });

  it('has the probe routes and scaling metrics deploy uses, and says which probes the API key guards', () => {
    for (const server of SERVER_NAMES) {
      const facts = SERVER_FACTS[server];
      const contract = loadContract(server);
      const route = (path: string) => Object.values(contract.routes).find((r) => r.path === path);
      assert.ok(route(facts.health), `${server} ${facts.health}`);
      assert.ok(route(facts.ready), `${server} ${facts.ready}`);
      assert.ok(route(facts.metrics), `${server} ${facts.metrics}`);
      // Kubelet probes and Prometheus send no key: every route they hit must answer without one.
      assert.equal(route(facts.health)!.auth, false, `${server} liveness must not need the API key`);
      assert.equal(route(facts.ready)!.auth, false, `${server} readiness must not need the API key`);
      assert.equal(route(facts.metrics)!.auth, false, `${server} metrics must not need the API key`);
      const names = new Set(contract.metrics.map((m) => m.name));
      for (const metric of facts.queueMetrics ?? []) assert.ok(names.has(metric), `${server} ${metric}`);
      if (facts.kvCache) assert.ok(names.has(facts.kvCache.metric), `${server} ${facts.kvCache.metric}`);
    }
    // vLLM's /v1/models is behind --api-key / VLLM_API_KEY (the middleware guards /v1): a readiness probe there
    // would fail with 401 once a key is configured.
    assert.equal(loadContract('vllm').routes.models!.auth, true);
    // Triton's metrics are on their own port.
    assert.equal(loadContract('triton').routes.metrics!.port, SERVER_FACTS.triton.metricsPort);
  });
});
