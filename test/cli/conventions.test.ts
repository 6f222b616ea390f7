import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('CLI conventions', () => {
  it('--version prints the package version and exits 0', async () => {
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('--help lists every command with examples and the exit codes', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const command of ['generate', 'config']) assert.match(result.stdout, new RegExp(`\\n  ${command}\\b`));
    assert.match(result.stdout, /Exit codes: 0 ok, 1 operation failed, 2 usage/);
    const generateHelp = await runCli(['generate', '--help']);
    assert.equal(generateHelp.code, 0);
    assert.match(generateHelp.stdout, /Examples:\n\s+\$ llmops generate/);
  });

  it('an unknown flag exits 2 with one line and no stack trace', async () => {
    const result = await runCli(['generate', '--prompt', 'x', '--no-such-flag']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option '--no-such-flag'/);
    assert.ok(isOneLineError(result.stderr), result.stderr);
    assert.equal(result.stdout, '');
  });

  it('an unknown command exits 2', async () => {
    const result = await runCli(['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });

  it('a malformed number is a usage error naming the flag and the value', async () => {
    const result = await runCli(['generate', '--prompt', 'x', '--max-tokens', 'abc']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--max-tokens.*abc.*positive integer/);
  });

  it('errors under --json still print one JSON document on stdout, and the stack only with --verbose', async () => {
    const result = await runCli(['generate', '/nonexistent/model', '--prompt', 'x', '--json']);
    assert.equal(result.code, 2);
    const document = JSON.parse(result.stdout) as { error: { code: string; exitCode: number } };
    assert.equal(document.error.code, 'MODEL_NOT_FOUND');
    assert.equal(document.error.exitCode, 2);
    assert.ok(isOneLineError(result.stderr), result.stderr);

    const verbose = await runCli(['generate', '/nonexistent/model', '--prompt', 'x', '--verbose']);
    assert.equal(verbose.code, 2);
    assert.match(verbose.stderr, /\n\s+at /);
  });

  it('config --json prints the effective configuration with environment overrides and secrets redacted', async () => {
    const dir = await tempDir('llmops-cli-');
    await writeFile(path.join(dir, 'llmops.yaml'), 'name: demo\ngenerate:\n  maxTokens: 12\n');
    const result = await runCli(['config', '--json'], {
      cwd: dir,
      env: { HF_TOKEN: 'hf_secret_value_123', LLMOPS_PROVIDER: 'cpu' },
    });
    assert.equal(result.code, 0, result.stderr);
    const document = JSON.parse(result.stdout) as {
      file: string;
      fromEnv: Record<string, string>;
      config: { name: string; generate: { maxTokens: number }; hub: { token: string } };
    };
    assert.equal(document.file, path.join(dir, 'llmops.yaml'));
    assert.equal(document.config.name, 'demo');
    assert.equal(document.config.generate.maxTokens, 12);
    assert.equal(document.config.hub.token, '<redacted>');
    assert.equal(document.fromEnv['hub.token'], 'HF_TOKEN');
    assert.ok(!result.stdout.includes('hf_secret_value_123'));
    assert.ok(!result.stderr.includes('hf_secret_value_123'));
  });

  it('an invalid config key exits 2 naming the key and its line', async () => {
    const dir = await tempDir('llmops-cli-');
    await writeFile(path.join(dir, 'llmops.yaml'), 'name: demo\ngenerate:\n  maxTokens: 12\n  temprature: 0.5\n');
    const result = await runCli(['config'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /llmops\.yaml:4: `generate\.temprature` is not a known key/);
    assert.ok(isOneLineError(result.stderr), result.stderr);
  });

  it('--config pointing at a missing file exits 2', async () => {
    const result = await runCli(['--config', '/nonexistent/llmops.yaml', 'config']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /cannot read config file .*no such file/);
  });
});
