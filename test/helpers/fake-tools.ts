import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './temp-dir.js';

/**
 * A fake `docker` on PATH: records its argv (one JSON line per call) and plays the containers llmops runs —
 * nvidia-smi, trtexec, optimum-cli — by writing into the host directory mounted at /out. FAKE_DOCKER_MODE picks a
 * failure: no-gpu, oom, fail, hang, accuracy.
 */
const FAKE_DOCKER = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_DOCKER_LOG, JSON.stringify(args) + '\\n');
const mode = process.env.FAKE_DOCKER_MODE || 'ok';
if (args[0] === 'rm') process.exit(0);
if (args[0] !== 'run') { process.stderr.write('fake docker: unsupported ' + args[0] + '\\n'); process.exit(2); }
const mounts = {};
let i = 1;
const valued = new Set(['--name', '--user', '--gpus', '-v', '-e', '-w', '--entrypoint', '--shm-size', '--ipc']);
for (; i < args.length; i += 1) {
  if (!args[i].startsWith('-')) break;
  if (args[i] === '-v') { const [src, dst] = args[i + 1].split(':'); mounts[dst] = src; }
  if (valued.has(args[i])) i += 1;
}
const image = args[i];
const command = args.slice(i + 1);
const out = mounts['/out'];
const gpu = args.includes('--gpus');
if (mode === 'no-gpu' && gpu) { process.stderr.write('docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].\\n'); process.exit(125); }
if (mode === 'oom' && command.includes('trtexec')) { process.stderr.write('[E] Error[2]: [virtualMemoryBuffer.cpp::resizeToCapacity] Requested amount of GPU memory could not be allocated: out of memory\\n'); process.exit(137); }
if (mode === 'fail') { process.stderr.write('Error: something inside the container failed\\nTraceback: line 1\\n'); process.exit(1); }
if (mode === 'hang') { fs.writeFileSync(path.join(out, 'partial.bin'), 'x'); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(143)); return; }
if (command[0] === 'nvidia-smi') { process.stdout.write('NVIDIA L4, 8.9, 550.54.15, 23034\\n'); process.exit(0); }
if (command[0] === 'trtexec') {
  process.stdout.write('&&&& RUNNING TensorRT.trtexec [TensorRT v100800] # trtexec ' + command.slice(1).join(' ') + '\\n');
  const engine = command.find((a) => a.startsWith('--saveEngine=')).split('=')[1];
  fs.writeFileSync(path.join(out, path.basename(engine)), Buffer.from('fake-engine-' + image));
  process.stdout.write('&&&& PASSED TensorRT.trtexec\\n');
  process.exit(0);
}
if (command.includes('optimum-cli')) {
  const from = process.env.FAKE_EXPORT_FROM;
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(out, name));
  if (mode === 'accuracy') process.stderr.write('The maximum absolute difference between the output of the reference model and the ONNX exported model is not within the set tolerance 1e-05:\\n- logits: max diff = 0.0123\\n');
  process.stdout.write('The ONNX export succeeded and the exported model was saved at: /out\\n');
  process.exit(0);
}
process.stderr.write('fake docker: unknown container command ' + command.join(' ') + '\\n');
process.exit(3);
`;

export interface FakeDocker {
  binDir: string;
  log: string;
  /** PATH with the fake first. */
  env(mode?: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  calls(): Promise<string[][]>;
}

export async function installFakeDocker(): Promise<FakeDocker> {
  const binDir = await tempDir('llmops-fakebin-');
  const log = path.join(binDir, 'docker.log');
  await writeFile(path.join(binDir, 'docker'), FAKE_DOCKER);
  await chmod(path.join(binDir, 'docker'), 0o755);
  await writeFile(log, '');
  return {
    binDir,
    log,
    env: (mode = 'ok', extra = {}) => ({
      PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
      FAKE_DOCKER_LOG: log,
      FAKE_DOCKER_MODE: mode,
      ...extra,
    }),
    calls: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as string[]),
  };
}
