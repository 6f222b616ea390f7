import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a fake `docker` executable into `binDir` that plays trtexec inside the TensorRT container: it appends its
 * argv to `$FAKE_DOCKER_LOG` (one JSON array per line), prints trtexec's banner for `FAKE_TRT_VERSION`, and for
 * `--loadEngine` writes an `--exportTimes` trace into the mounted /out directory. `FAKE_TRT_ENGINE_VERSION`
 * different from the container's makes it fail the way TensorRT does on a version mismatch.
 */
export async function installFakeDocker(binDir: string): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const file = path.join(binDir, 'docker');
  await writeFile(file, SCRIPT);
  await chmod(file, 0o755);
  return file;
}

const SCRIPT = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const argv = process.argv.slice(2);
if (process.env.FAKE_DOCKER_LOG) fs.appendFileSync(process.env.FAKE_DOCKER_LOG, JSON.stringify(argv) + '\\n');
if (argv[0] !== 'run') process.exit(0);
const version = process.env.FAKE_TRT_VERSION || '10.3.0';
const [major, minor, patch] = version.split('.').map(Number);
const code = major >= 10 ? major * 10000 + minor * 100 + patch : major * 1000 + minor * 100 + patch;
const inner = argv.slice(argv.indexOf('trtexec'));
console.log('&&&& RUNNING TensorRT.trtexec [TensorRT v' + code + '] [b26] # ' + inner.join(' '));
if (inner.includes('--help')) { console.log('=== Model Options ==='); process.exit(0); }
const engineVersion = process.env.FAKE_TRT_ENGINE_VERSION || version;
if (engineVersion !== version) {
  console.error('[E] [TRT] IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Serialization assertion stdVersionRead == kSERIALIZATION_VERSION failed.Version tag does not match. Note: Current Version: 238, Serialized Engine Version: 236)');
  console.error('[E] Engine deserialization failed');
  console.log('&&&& FAILED TensorRT.trtexec [TensorRT v' + code + '] [b26] # ' + inner.join(' '));
  process.exit(1);
}
let out = null;
for (let i = 0; i < argv.length; i += 1) if (argv[i] === '-v' && argv[i + 1].endsWith(':/out')) out = argv[i + 1].slice(0, -':/out'.length);
const flag = (name) => { const hit = inner.find((a) => a.startsWith('--' + name + '=')); return hit ? hit.slice(name.length + 3) : undefined; };
const iterations = Number(flag('iterations') || 10);
const latency = Number(process.env.FAKE_TRT_LATENCY_MS || 2);
console.log('[I] Engine deserialized in 0.0421 sec.');
console.log('[I] [MemUsageChange] TensorRT-managed allocation in IExecutionContext creation: CPU +0, GPU +8, now: CPU 0, GPU 24 (MiB)');
const entries = [];
let t = 0;
for (let i = 0; i < iterations; i += 1) {
  // The first inference is slow (lazy initialisation), as on a real GPU; warm-up must drop it.
  const lat = i === 0 ? latency * 10 : latency + (i % 3) * 0.1;
  const h2d = 0.05, d2h = 0.05, compute = lat - h2d - d2h;
  entries.push({ startEnqMs: t, endEnqMs: t + 0.01, startH2dMs: t, endH2dMs: t + h2d, startComputeMs: t + h2d, endComputeMs: t + h2d + compute,
    startD2hMs: t + h2d + compute, endD2hMs: t + lat, h2dMs: h2d, computeMs: compute, d2hMs: d2h, latencyMs: lat, endToEndMs: lat });
  t += lat;
}
if (out && flag('exportTimes')) fs.writeFileSync(path.join(out, path.basename(flag('exportTimes'))), JSON.stringify(entries, null, 1));
console.log('&&&& PASSED TensorRT.trtexec [TensorRT v' + code + '] [b26] # ' + inner.join(' '));
`;
