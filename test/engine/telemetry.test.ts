import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** Loads the tiny model through the engine in a process of its own, as a user's machine would; returns its pid. */
function loadInChild(home: string, telemetry: string | undefined): Promise<number> {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const script = `const { loadOrt, locateModelFiles } = await import(${JSON.stringify(engine)});
    const ort = await loadOrt();
    const { onnxPath } = await locateModelFiles(process.argv[1]);
    await (await ort.InferenceSession.create(onnxPath)).release();
    console.log(process.pid);`;
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const name of [...CI_MARKERS, 'XDG_CACHE_HOME', 'ORT_DISABLE_TELEMETRY']) delete env[name];
  if (telemetry !== undefined) env.ORT_DISABLE_TELEMETRY = telemetry;
  return ensureTinyModel().then(
    (model) =>
      new Promise((resolve, reject) =>
        execFile(process.execPath, ['--input-type=module', '-e', script, model], { env }, (error, stdout, stderr) =>
          error ? reject(new Error(stderr || error.message)) : resolve(Number(stdout.trim())),
        ),
      ),
  );
}

describe('ONNX Runtime telemetry', () => {
  it('is off when the engine loads ONNX Runtime: no device id, no debug log, and a user who sets ORT_DISABLE_TELEMETRY=0 gets it back', async (t) => {
    // ONNX Runtime writes its debug log to TMPDIR when that is set, /tmp otherwise (as os.tmpdir() resolves).
    const traces = (home: string, pid: number) => ({
      deviceId: existsSync(path.join(home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime', 'deviceid')),
      debugLog: existsSync(path.join(tmpdir(), `mat-debug-${pid}.log`)),
    });

    // The probe first has to see telemetry where it runs, or its silence below would prove nothing.
    const chosen = await tempDir('llmops-telemetry-on-');
    const reporting = await loadInChild(chosen, '0');
    const seen = traces(chosen, reporting);
    await rm(path.join(tmpdir(), `mat-debug-${reporting}.log`), { force: true });
    if (!seen.deviceId && !seen.debugLog) {
      t.skip(
        'ONNX Runtime starts no telemetry in this environment even with ORT_DISABLE_TELEMETRY=0, so there is nothing to see switched off',
      );
      return;
    }
    assert.deepEqual(seen, { deviceId: true, debugLog: true }, "the user's own choice is kept");

    const quiet = await tempDir('llmops-telemetry-');
    const pid = await loadInChild(quiet, undefined);
    assert.deepEqual(traces(quiet, pid), { deviceId: false, debugLog: false });
  });
});
