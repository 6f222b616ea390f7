import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ensureTinyModel } from '../../src/model/tiny.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The variables by which ONNX Runtime 1.30 recognises a CI service and keeps its telemetry off by itself. */
const CI_MARKERS = [
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
];

/** The environment of a user's machine: no CI markers, `home` as HOME, ORT_DISABLE_TELEMETRY as given (or unset). */
function userEnv(home: string, telemetry: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const name of [...CI_MARKERS, 'XDG_CACHE_HOME', 'ORT_DISABLE_TELEMETRY']) delete env[name];
  if (telemetry !== undefined) env.ORT_DISABLE_TELEMETRY = telemetry;
  return env;
}

/** Runs `args` with node in a process of its own; resolves with its pid once it exited 0. */
function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, args, { env }, (error, _stdout, stderr) =>
      error ? reject(new Error(stderr || error.message)) : resolve(child.pid!),
    );
  });
}

/** Loads the tiny model through the engine in a process of its own, as a user's machine would; returns its pid. */
async function loadInChild(home: string, telemetry: string | undefined): Promise<number> {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const script = `const { loadOrt, locateModelFiles } = await import(${JSON.stringify(engine)});
    const ort = await loadOrt();
    const { onnxPath } = await locateModelFiles(process.argv[1]);
    await (await ort.InferenceSession.create(onnxPath)).release();`;
  return runChild(['--input-type=module', '-e', script, await ensureTinyModel()], userEnv(home, telemetry));
}

describe('ONNX Runtime telemetry', () => {
  // ONNX Runtime writes its debug log to TMPDIR when that is set, /tmp otherwise (as os.tmpdir() resolves).
  const traces = (home: string, pid: number) => ({
    deviceId: existsSync(path.join(home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime', 'deviceid')),
    debugLog: existsSync(path.join(tmpdir(), `mat-debug-${pid}.log`)),
  });
  /** Whether ONNX Runtime reports at all here when asked to: where it doesn't, silence proves nothing. */
  let reportsHere: Promise<boolean> | null = null;
  const probe = () =>
    (reportsHere ??= (async () => {
      const chosen = await tempDir('llmops-telemetry-on-');
      const reporting = await loadInChild(chosen, '0');
      const seen = traces(chosen, reporting);
      await rm(path.join(tmpdir(), `mat-debug-${reporting}.log`), { force: true });
      if (!seen.deviceId && !seen.debugLog) return false;
      assert.deepEqual(seen, { deviceId: true, debugLog: true }, "the user's own choice is kept");
      return true;
    })());
  const skipReason =
    'ONNX Runtime starts no telemetry in this environment even with ORT_DISABLE_TELEMETRY=0, so there is nothing to see switched off';

  it('is off when the engine loads ONNX Runtime: no device id, no debug log, and a user who sets ORT_DISABLE_TELEMETRY=0 gets it back', async (t) => {
    if (!(await probe())) return t.skip(skipReason);
    const quiet = await tempDir('llmops-telemetry-');
    const pid = await loadInChild(quiet, undefined);
    assert.deepEqual(traces(quiet, pid), { deviceId: false, debugLog: false });
  });

  it('is off in llmops bench, which loads the model in a worker thread (whose process.env never reaches the binding)', async (t) => {
    if (!(await probe())) return t.skip(skipReason);
    const quiet = await tempDir('llmops-telemetry-bench-');
    const cli = fileURLToPath(new URL('../../../bin/llmops.js', import.meta.url));
    const args = [
      cli,
      'bench',
      await ensureTinyModel(),
      '--prompt-tokens',
      '4',
      '--gen-tokens',
      '2',
      '--iterations',
      '1',
      '--json',
    ];
    const pid = await runChild(args, userEnv(quiet, undefined));
    assert.deepEqual(traces(quiet, pid), { deviceId: false, debugLog: false });
  });
});
