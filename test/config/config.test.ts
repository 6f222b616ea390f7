import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LlmopsError } from '../../src/errors.js';
import { parseConfig, redactSecrets } from '../../src/config/index.js';

function configError(text: string, env: NodeJS.ProcessEnv = {}): LlmopsError {
  try {
    parseConfig(text, { file: 'llmops.yaml', env });
  } catch (error) {
    assert.ok(error instanceof LlmopsError);
    return error;
  }
  assert.fail('expected a config error');
}

describe('llmops.yaml', () => {
  it('applies defaults when empty', () => {
    const { config } = parseConfig('', {});
    assert.equal(config.engine.provider, 'cpu');
    assert.equal(config.generate.maxTokens, 64);
    assert.equal(config.name, 'llmops-model');
  });

  it('names the key and line of a wrong type', () => {
    const error = configError('name: x\ngenerate:\n  maxTokens: many\n');
    assert.equal(error.exitCode, 2);
    assert.equal(error.message, 'llmops.yaml:3: `generate.maxTokens` must be a number');
  });

  it('names the allowed values of an enum', () => {
    const error = configError('engine:\n  provider: gpu\n');
    assert.match(
      error.message,
      /^llmops\.yaml:2: `engine\.provider` must be one of "cpu", "cuda", "tensorrt", "webgpu"$/,
    );
  });

  it('rejects an unknown top-level key with its line', () => {
    const error = configError('name: x\n\nmodle: foo\n');
    assert.equal(error.message, 'llmops.yaml:3: `modle` is not a known key');
  });

  it('reports YAML syntax errors with a line', () => {
    const error = configError('name: x\ngenerate: [\n');
    assert.match(error.message, /^llmops\.yaml:\d+: invalid YAML/);
  });

  it('rejects a non-mapping document', () => {
    assert.match(configError('- a\n- b\n').message, /top level must be a mapping/);
  });

  it('rejects an invalid service name with the rule', () => {
    assert.match(configError('name: Tiny_GPT\n').message, /`name` must be a DNS-1123 label/);
  });

  it('environment overrides the file, and names the variable when invalid', () => {
    const { config, fromEnv } = parseConfig('engine:\n  provider: cpu\n', { env: { LLMOPS_PROVIDER: 'cuda' } });
    assert.equal(config.engine.provider, 'cuda');
    assert.deepEqual(fromEnv, { 'engine.provider': 'LLMOPS_PROVIDER' });
    const error = configError('', { LLMOPS_THREADS: 'lots' });
    assert.match(error.message, /^environment variable LLMOPS_THREADS: `engine\.threads` must be a number/);
  });

  it('takes engine.spinWait from LLMOPS_SPIN_WAIT as on/off', () => {
    assert.equal(parseConfig('', { env: {} }).config.engine.spinWait, undefined);
    assert.equal(parseConfig('', { env: { LLMOPS_SPIN_WAIT: '0' } }).config.engine.spinWait, false);
    assert.equal(
      parseConfig('engine:\n  spinWait: false\n', { env: { LLMOPS_SPIN_WAIT: 'on' } }).config.engine.spinWait,
      true,
    );
    assert.match(
      configError('', { LLMOPS_SPIN_WAIT: 'maybe' }).message,
      /^environment variable LLMOPS_SPIN_WAIT: `engine\.spinWait` must be 1, true, on, 0, false or off$/,
    );
    assert.match(
      configError('engine:\n  spinWait: maybe\n', {}).message,
      /`engine\.spinWait` must be a boolean$/,
      'in llmops.yaml the key takes YAML booleans',
    );
  });

  it('redacts secrets wherever they are nested', () => {
    const redacted = redactSecrets({
      hub: { token: 'hf_x', endpoint: 'e' },
      serve: { apiKeys: ['a'] },
      list: [{ password: 'p' }],
    });
    assert.deepEqual(redacted, {
      hub: { token: '<redacted>', endpoint: 'e' },
      serve: { apiKeys: '<redacted>' },
      list: [{ password: '<redacted>' }],
    });
  });
});
