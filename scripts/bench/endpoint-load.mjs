#!/usr/bin/env node
// Benchmark of `llmops bench URL` (the undici streaming load generator) against hey and Locust, on the tests' own
// streaming server (scripts/bench/stream-server.mjs running test/helpers/stream-server.ts: every first token held
// exactly --ttft ms, then one token every --itl ms). The server is pinned to core 0 and each client in turn to core 1,
// all at the same concurrency, for the same time, with the same request (a POST of an OpenAI chat completion,
// stream: true, max_tokens = --tokens, the 128-token synthetic prompt llmops itself sends). It shows:
//  1. llmops's throughput against hey's (a Go client, about the cheapest per request there is): ≥ 0.9 × hey's req/s;
//  2. llmops's client CPU per request against Locust's (the book's locustfile: HttpUser, stream=True, iter_lines(),
//     TTFT fired as a custom "TTFT" request event): ≤ 1/3 of Locust's;
//  3. llmops's accuracy: TTFT p50 and ITL p50 within 10% of the server's --ttft and --itl;
//  4. that the server is not the bottleneck: hey's time to first byte p50 within 10% of --ttft. hey's TTFB
//     (Response-delay: request written → first response byte) is the first token only because the server runs with
//     --hold-headers (headers go out with the first token; by default it flushes them at once). Given a --server
//     without that flag, the check falls back to hey's whole-response time p50 ≤ 1.1 × (ttft + (tokens − 1) × itl).
// Each client's run also records the server's CPU share and any CPU used by other processes on the machine (a warning
// says when another process disturbed a run: rerun then).
// Client CPU is user + sys of the whole client process (start-up included), from bash's `times`, divided by every
// request the process completed: hey's CSV rows, Locust's completed POSTs (not its custom TTFT events, which are not
// requests), llmops's measured + warm-up requests. Req/s and TTFT are over the same window for every client: from
// --warmup to the end. The first --warmup seconds (all connections opening at once) are left out.
// Exit 0 when every check passes, 3 when one fails, 1 when a run could not be made.
//
// Usage: npm run build && node scripts/bench/endpoint-load.mjs [--seconds 15] [--concurrency 400] [--tokens 8]
//        [--ttft 50] [--itl 20] [--warmup 2] [--clients hey,locust,llmops] [--server FILE.js] [--keep] [--json]
// Needs hey and Locust on PATH (a missing one is skipped, with its checks); taskset for the pinning (two cores).
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '400' },
    tokens: { type: 'string', default: '8' },
    ttft: { type: 'string', default: '50' },
    itl: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    clients: { type: 'string', default: 'hey,locust,llmops' },
    server: { type: 'string', default: path.join(root, 'scripts/bench/stream-server.mjs') },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const concurrency = Number(values.concurrency);
const tokens = Number(values.tokens);
const ttft = Number(values.ttft);
const itl = Number(values.itl);
for (const [name, value] of Object.entries({ seconds, concurrency, tokens })) {
  if (!Number.isInteger(value) || value < 1) usage(`--${name} must be a positive integer, got ${values[name]}`);
}
if (!(warmup >= 0 && warmup < seconds)) usage(`--warmup must be in [0, --seconds), got ${values.warmup}`);
if (!(ttft >= 0) || !(itl >= 0)) usage('--ttft and --itl must be numbers of milliseconds ≥ 0');
const wanted = values.clients
  .split(',')
  .map((c) => c.trim())
  .filter(Boolean);
for (const c of wanted)
  if (!['hey', 'locust', 'llmops'].includes(c)) usage(`unknown client ${c} in --clients (hey, locust, llmops)`);
if (!existsSync(values.server)) usage(`no server script ${values.server}`);
for (const built of ['dist/src/bench/endpoint/api.js', 'dist/test/helpers/stream-server.js']) {
  if (!existsSync(path.join(root, built))) usage(`${built} is missing: run \`npm run build\` first`);
}

// Progress and notes go to stderr, so --json leaves exactly one document on stdout.
const note = (line) => process.stderr.write(`${line}\n`);
const which = (cmd) =>
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, cmd))
    .find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
// Pinning needs a core for the server and one for the client; with one core both would share it anyway.
const taskset = os.cpus().length >= 2 ? which('taskset') : undefined;
const pin = (core, argv) => (taskset ? [taskset, '-c', String(core), ...argv] : argv);
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const holdHeaders = readFileSync(values.server, 'utf8').includes("'hold-headers'");
const work = mkdtempSync(path.join(os.tmpdir(), 'llmops-endpoint-load-'));

// Everything started here is ended here: the server, and the client running when an interrupt or error comes.
let server;
let running;
function cleanup() {
  if (running?.exitCode === null) {
    try {
      process.kill(-running.pid, 'SIGKILL');
    } catch {
      // The group may have exited between the check and the kill: nothing left to stop.
    }
  }
  if (server?.exitCode === null) server.kill('SIGKILL');
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

async function main() {
  if (!taskset)
    note(
      `note: ${os.cpus().length < 2 ? 'one core' : 'taskset not found'}: server and clients run unpinned and share the CPU (figures are noisier)`,
    );
  if (!holdHeaders) {
    note(
      `note: ${path.basename(values.server)} has no --hold-headers: it sends response headers at once, so hey's time to first byte`,
    );
    note(
      "      is header arrival (≈ 0 ms), not the first token; the server-saturation check uses hey's whole-response time instead",
    );
  }
  const url = await startServer();
  const { syntheticPrompts, approximateTokenCounter } = await import(
    path.join(root, 'dist/src/bench/endpoint/prompts.js')
  );
  const { requestBody } = await import(path.join(root, 'dist/src/bench/endpoint/api.js'));
  const model = (await (await fetch(`${url}/v1/models`)).json()).data[0].id;
  const [prompt] = syntheticPrompts({ count: 1, mean: 128, stddev: 0, counter: approximateTokenCounter, seed: 7919 });
  const bodyFile = path.join(work, 'body.json');
  writeFileSync(bodyFile, requestBody('openai-chat', prompt, { model, maxTokens: tokens }));
  const endpoint = `${url}/v1/chat/completions`;
  note(
    `server ${endpoint} (${taskset ? 'core 0' : 'unpinned'}${holdHeaders ? ', headers held until the first token' : ''}); ` +
      `${concurrency} concurrent streams, ${seconds} s per client (first ${warmup} s left out), ${tokens} tokens, ttft ${ttft} ms, itl ${itl} ms`,
  );

  const results = {};
  for (const client of wanted) {
    const runner = { hey: runHey, locust: runLocust, llmops: runLlmops }[client];
    note(`${client}: running…`);
    const result = await runner(endpoint, bodyFile);
    if (result) results[client] = result;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the last client's sockets close before the next starts
  }

  const checks = evaluate(results);
  const document = {
    config: {
      seconds,
      warmupS: warmup,
      concurrency,
      tokens,
      ttftMs: ttft,
      itlMs: itl,
      pinned: Boolean(taskset),
      holdHeaders,
    },
    clients: results,
    checks,
    ok: checks.every((c) => c.ok !== false),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  else print(document);
  return document.ok ? 0 : 3;
}

async function startServer() {
  const argv = pin(0, [
    process.execPath,
    values.server,
    '--ttft',
    String(ttft),
    '--itl',
    String(itl),
    '--tokens',
    String(tokens),
    '--port',
    '0',
    ...(holdHeaders ? ['--hold-headers'] : []),
  ]);
  server = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`the stream server did not start in 10 s: ${log.trim()}`)), 10_000);
    server.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /stream server on (http:\/\/\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`the stream server exited (${code}): ${log.trim()}`)));
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
}

/** utime + stime of one process, in ms. */
function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Busy and total ms of every core and of the machine, from /proc/stat. */
function machineCpu() {
  const cores = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^(cpu\d*)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].split(/\s+/).map(Number);
    const ms = (jiffies) => (jiffies * 1000) / CLK_TCK;
    const busy = user + nice + system + irq + softirq + steal;
    cores[match[1]] = {
      busy: ms(busy),
      total: ms(busy + idle + iowait),
      tasks: ms(user + nice + system),
      interrupts: ms(irq + softirq),
      steal: ms(steal),
    };
  }
  return cores;
}

/**
 * Runs one client pinned to core 1 as `bash -c '<client> > out; times'`: the second line of `times` is the user and
 * sys time of the shell's children, i.e. the client's whole process tree. Also samples the server's CPU and the
 * machine's, to tell a saturated server or a busy machine (another process stealing cycles) from a slow client.
 */
async function timedRun(name, argv, env = {}) {
  const stdoutFile = path.join(work, `${name}.out`);
  const machineBefore = machineCpu();
  const serverBefore = processCpuMs(server.pid);
  const wallStart = performance.now();
  const child = spawn(
    'bash',
    ['-c', 'out=$1; shift; "$@" > "$out"; rc=$?; times; exit $rc', 'bash', stdoutFile, ...pin(1, argv)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so an interrupt can end the whole tree
      env: { ...process.env, ...env },
    },
  );
  running = child;
  let times = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (times += chunk));
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-8000)));
  const killer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), (seconds + 60) * 1000);
  const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? signal)));
  clearTimeout(killer);
  running = undefined;
  const wallMs = performance.now() - wallStart;
  const serverMs = processCpuMs(server.pid) - serverBefore;
  const machineAfter = machineCpu();
  const children = times.trim().split('\n')[1] ?? '';
  const [user, sys] = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => (Number(m[1]) * 60 + Number(m[2])) * 1000);
  if (user === undefined || sys === undefined)
    throw new Error(`${name}: no CPU times (exit ${code}): ${stderr.trim().slice(-500)}`);
  const delta = (core, field) => machineAfter[core][field] - machineBefore[core][field];
  const busy = (core) => delta(core, 'busy');
  const share = (core) => round((100 * busy(core)) / (machineAfter[core].total - machineBefore[core].total), 1);
  return {
    code,
    stderr,
    stdout: existsSync(stdoutFile) ? readFileSync(stdoutFile, 'utf8') : '',
    cpuMs: round(user + sys, 1),
    resources: {
      wallS: round(wallMs / 1000, 2),
      clientCpuMs: { user: round(user, 1), sys: round(sys, 1) },
      serverCpuPercent: round((100 * serverMs) / wallMs, 1),
      core0BusyPercent: share('cpu0'),
      core1BusyPercent: 'cpu1' in machineAfter ? share('cpu1') : null,
      // Process CPU on the machine that is neither this client's nor the server's: another process competing.
      otherCpuPercent: round((100 * Math.max(0, delta('cpu', 'tasks') - serverMs - user - sys)) / wallMs, 1),
      // Interrupt handling (softirq: the loopback network stack, some of it accounted to no process) and steal.
      interruptCpuPercent: round((100 * delta('cpu', 'interrupts')) / wallMs, 1),
      stealCpuPercent: round((100 * delta('cpu', 'steal')) / wallMs, 1),
    },
  };
}

async function runHey(endpoint, bodyFile) {
  if (!which('hey')) return void note('hey: not on PATH, skipped');
  const before = await statsRequests(endpoint);
  const run = await timedRun('hey', [
    'hey',
    '-z',
    `${seconds}s`,
    '-c',
    String(concurrency),
    '-m',
    'POST',
    '-T',
    'application/json',
    '-H',
    'Accept: text/event-stream',
    '-D',
    bodyFile,
    '-o',
    'csv',
    endpoint,
  ]);
  if (run.code !== 0) throw new Error(`hey exited ${run.code}: ${run.stderr.trim().slice(-500)}`);
  // hey -o csv: response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset (seconds).
  // Response-delay is request written → first response byte; offset is when the request started.
  const [header, ...lines] = run.stdout.trim().split('\n');
  const column = Object.fromEntries(header.split(',').map((name, i) => [name.trim().toLowerCase(), i]));
  for (const name of ['response-time', 'response-delay', 'status-code', 'offset']) {
    if (!(name in column)) throw new Error(`hey's CSV has no ${name} column (header: ${header})`);
  }
  const rows = lines.filter(Boolean).map((line) => {
    const f = line.split(',');
    return {
      time: Number(f[column['response-time']]),
      delay: Number(f[column['response-delay']]),
      status: Number(f[column['status-code']]),
      offset: Number(f[column['offset']]),
    };
  });
  const ok = rows.filter((r) => r.status === 200);
  const inWindow = rows.filter((r) => r.offset + r.time >= warmup && r.offset + r.time <= seconds).length;
  const sentInWindow = ok.filter((r) => r.offset >= warmup);
  return {
    requestsPerSecond: round(inWindow / (seconds - warmup), 1),
    // Time to first byte: the first token only when the server holds its headers until then.
    ttftP50Ms: holdHeaders
      ? percentile(
          sentInWindow.map((r) => r.delay * 1000),
          50,
        )
      : null,
    ttfbP50Ms: percentile(
      sentInWindow.map((r) => r.delay * 1000),
      50,
    ),
    ttfbP99Ms: percentile(
      sentInWindow.map((r) => r.delay * 1000),
      99,
    ),
    responseTimeP50Ms: percentile(
      sentInWindow.map((r) => r.time * 1000),
      50,
    ),
    completed: rows.length,
    errors: rows.length - ok.length,
    serverRequests: (await statsRequests(endpoint)) - before,
    cpuMsPerRequest: round(run.cpuMs / Math.max(1, rows.length), 4),
    ...run.resources,
  };
}

async function runLocust(endpoint, bodyFile) {
  const locust = which('locust');
  if (!locust) return void note('locust: not on PATH, skipped');
  const target = new URL(endpoint);
  const locustfile = path.join(work, 'locustfile.py');
  writeFileSync(locustfile, LOCUSTFILE);
  const out = path.join(work, 'locust.json');
  const before = await statsRequests(endpoint);
  const run = await timedRun(
    'locust',
    [
      locust,
      '-f',
      locustfile,
      '--headless',
      '-u',
      String(concurrency),
      '-r',
      String(concurrency),
      '-t',
      `${seconds}s`,
      '--host',
      target.origin,
      '--only-summary',
      '--csv',
      path.join(work, 'locust'),
    ],
    {
      ENDPOINT_LOAD_BODY: bodyFile,
      ENDPOINT_LOAD_PATH: target.pathname,
      ENDPOINT_LOAD_OUT: out,
      ENDPOINT_LOAD_WARMUP: String(warmup),
      ENDPOINT_LOAD_SECONDS: String(seconds),
    },
  );
  // Locust exits 1 when some requests failed; the errors check reports those.
  if (!existsSync(out)) throw new Error(`locust exited ${run.code} without results: ${run.stderr.trim().slice(-800)}`);
  const figures = JSON.parse(readFileSync(out, 'utf8'));
  const ttfts = figures.ttftMs.sort((a, b) => a - b);
  return {
    requestsPerSecond: round(figures.completedInWindow / (seconds - warmup), 1),
    ttftP50Ms: percentile(ttfts, 50, true),
    ttftP99Ms: percentile(ttfts, 99, true),
    // Locust's own TTFT row (its percentiles are rounded to two significant digits).
    locustReportedTtftP50Ms: figures.locustTtftMedianMs,
    completed: figures.completed,
    errors: figures.failed,
    serverRequests: (await statsRequests(endpoint)) - before,
    cpuMsPerRequest: round(run.cpuMs / Math.max(1, figures.completed), 4),
    ...run.resources,
  };
}

async function runLlmops(endpoint) {
  const before = await statsRequests(endpoint);
  const run = await timedRun('llmops', [
    process.execPath,
    path.join(root, 'bin/llmops.js'),
    'bench',
    endpoint,
    '--concurrency',
    String(concurrency),
    '--duration',
    `${seconds - warmup}s`,
    '--warmup',
    `${warmup}s`,
    '--max-tokens',
    String(tokens),
    '--json',
  ]);
  if (run.code !== 0) throw new Error(`llmops exited ${run.code}: ${run.stderr.trim().slice(-800)}`);
  const step = JSON.parse(run.stdout).runs[0];
  const completed = step.requests + step.warmup.requests;
  return {
    requestsPerSecond: round(step.requestsPerSecond, 1),
    ttftP50Ms: step.ttftMs.p50,
    ttftP99Ms: step.ttftMs.p99,
    itlP50Ms: step.itlMs.p50,
    itlP99Ms: step.itlMs.p99,
    completed,
    errors: step.errors,
    serverRequests: (await statsRequests(endpoint)) - before,
    cpuMsPerRequest: round(run.cpuMs / Math.max(1, completed), 4),
    // llmops's own figure: its process's CPU over the measured window ÷ the window's requests (no start-up).
    selfReportedCpuMsPerRequest: step.client.cpuMsPerRequest,
    eventLoopDelayP99Ms: step.client.eventLoopDelayMs.p99,
    ...run.resources,
  };
}

async function statsRequests(endpoint) {
  return (await (await fetch(new URL('/stats', endpoint))).json()).requests;
}

function evaluate(r) {
  const checks = [];
  const within = (value, target, tolerance) =>
    value !== null && value !== undefined && Math.abs(value - target) <= tolerance * target;
  const check = (name, needs, ok, value, limit) =>
    checks.push(needs ? { name, ok, value, limit } : { name, ok: null, value: 'skipped', limit });
  const { hey, locust, llmops } = r;
  check(
    "llmops req/s ≥ 0.9 × hey's",
    hey && llmops,
    llmops?.requestsPerSecond >= 0.9 * hey?.requestsPerSecond,
    llmops?.requestsPerSecond,
    hey && round(0.9 * hey.requestsPerSecond, 1),
  );
  check(
    "llmops CPU/request ≤ 1/3 of Locust's",
    locust && llmops,
    llmops?.cpuMsPerRequest <= locust?.cpuMsPerRequest / 3,
    llmops?.cpuMsPerRequest,
    locust && round(locust.cpuMsPerRequest / 3, 4),
  );
  check(
    `llmops TTFT p50 within 10% of ${ttft} ms`,
    llmops,
    within(llmops?.ttftP50Ms, ttft, 0.1),
    llmops?.ttftP50Ms,
    `${round(ttft * 0.9)}–${round(ttft * 1.1)}`,
  );
  check(
    `llmops ITL p50 within 10% of ${itl} ms`,
    llmops,
    within(llmops?.itlP50Ms, itl, 0.1),
    llmops?.itlP50Ms,
    `${round(itl * 0.9)}–${round(itl * 1.1)}`,
  );
  if (holdHeaders) {
    check(
      `server not saturated: hey TTFB p50 within 10% of ${ttft} ms`,
      hey,
      within(hey?.ttfbP50Ms, ttft, 0.1),
      hey?.ttfbP50Ms,
      `${round(ttft * 0.9)}–${round(ttft * 1.1)}`,
    );
  } else {
    const ideal = ttft + (tokens - 1) * itl;
    check(
      `server not saturated: hey response time p50 ≤ 1.1 × ${ideal} ms`,
      hey,
      hey?.responseTimeP50Ms <= 1.1 * ideal,
      hey?.responseTimeP50Ms,
      round(1.1 * ideal),
    );
  }
  const errors = Object.entries(r)
    .filter(([, c]) => c.errors > 0)
    .map(([name, c]) => `${name} ${c.errors}`);
  check('no client saw errors', Object.keys(r).length > 0, errors.length === 0, errors.join(', ') || 0, 0);
  return checks;
}

function print(document) {
  const { clients } = document;
  const cell = (v, width) => String(v ?? '—').padStart(width);
  console.log(
    `${concurrency} concurrent streams for ${seconds} s (req/s and TTFT after a ${warmup} s warm-up), ${tokens} tokens, server ttft ${ttft} ms, itl ${itl} ms` +
      `${document.config.pinned ? ', server on core 0, clients on core 1' : ', unpinned'}`,
  );
  console.log(
    `${'client'.padEnd(8)}${cell('req/s', 9)}${cell('TTFT p50 ms', 13)}${cell('CPU ms/req', 12)}${cell('requests', 10)}${cell('errors', 8)}${cell('server CPU', 12)}${cell('other CPU', 11)}`,
  );
  for (const [name, c] of Object.entries(clients)) {
    console.log(
      `${name.padEnd(8)}${cell(c.requestsPerSecond, 9)}${cell(c.ttftP50Ms, 13)}${cell(c.cpuMsPerRequest, 12)}${cell(c.completed, 10)}${cell(c.errors, 8)}${cell(`${c.serverCpuPercent}%`, 12)}${cell(`${c.otherCpuPercent}%`, 11)}`,
    );
  }
  if (clients.hey)
    console.log(
      `hey: time to first byte p50 ${clients.hey.ttfbP50Ms} ms, p99 ${clients.hey.ttfbP99Ms} ms (${document.config.holdHeaders ? 'headers come with the first token, so this is TTFT' : 'headers are sent at once: header arrival, not TTFT'}); whole response p50 ${clients.hey.responseTimeP50Ms} ms`,
    );
  if (clients.locust)
    console.log(
      `locust: HttpUser, stream=True, iter_lines(); its own TTFT row says p50 ${clients.locust.locustReportedTtftP50Ms} ms; client core ${clients.locust.core1BusyPercent}% busy`,
    );
  if (clients.llmops)
    console.log(
      `llmops: ITL p50 ${clients.llmops.itlP50Ms} ms (p99 ${clients.llmops.itlP99Ms}), TTFT p99 ${clients.llmops.ttftP99Ms} ms, own CPU figure ${clients.llmops.selfReportedCpuMsPerRequest} ms/req (window only), event-loop delay p99 ${clients.llmops.eventLoopDelayP99Ms} ms`,
    );
  const busy = Object.entries(clients)
    .filter(([, c]) => c.otherCpuPercent > 15)
    .map(([name, c]) => `${name} (${c.otherCpuPercent}%)`);
  if (busy.length > 0)
    console.log(`warning: other processes used the CPU during ${busy.join(', ')}: figures are disturbed`);
  for (const c of document.checks)
    console.log(
      `${c.ok === null ? 'SKIP' : c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value}${c.ok === null ? '' : ` (limit ${c.limit})`}`,
    );
}

/** Nearest-rank percentile of values in ms (sorted in place unless already sorted). */
function percentile(values, p, sorted = false) {
  if (values.length === 0) return null;
  if (!sorted) values.sort((a, b) => a - b);
  return round(values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))], 2);
}

function round(value, digits = 3) {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function usage(message) {
  process.stderr.write(`endpoint-load: ${message}\n`);
  process.exit(2);
}

// The book's locustfile, made measurable: HttpUser (python-requests; FastHttpUser's response.stream gives no lines to
// iterate), stream=True, iter_lines(), TTFT = first data line with content, fired as a custom "TTFT" request event.
// It also counts completions and keeps raw TTFTs for the same window as the other clients, and writes them on quit.
const LOCUSTFILE = String.raw`import json, os, time
from locust import HttpUser, task, events

BODY = open(os.environ["ENDPOINT_LOAD_BODY"], "rb").read()
PATH = os.environ["ENDPOINT_LOAD_PATH"]
WARMUP = float(os.environ["ENDPOINT_LOAD_WARMUP"])
SECONDS = float(os.environ["ENDPOINT_LOAD_SECONDS"])
HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}
state = {"t0": time.perf_counter(), "completed": 0, "failed": 0, "in_window": 0, "ttft": []}


@events.test_start.add_listener
def on_start(environment, **kwargs):
    state["t0"] = time.perf_counter()


@events.quitting.add_listener
def on_quit(environment, **kwargs):
    row = environment.stats.get("first token", "TTFT")
    with open(os.environ["ENDPOINT_LOAD_OUT"], "w") as f:
        json.dump({"completed": state["completed"], "failed": state["failed"], "completedInWindow": state["in_window"],
                   "ttftMs": state["ttft"], "locustTtftMedianMs": row.median_response_time if row.num_requests else None}, f)


class ChatUser(HttpUser):
    @task
    def chat(self):
        start = time.perf_counter()
        ttft = None
        done = False
        with self.client.post(PATH, data=BODY, headers=HEADERS, stream=True, catch_response=True, name="chat") as response:
            for line in response.iter_lines():
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                elif ttft is None:
                    choices = json.loads(data).get("choices") or [{}]
                    if (choices[0].get("delta") or {}).get("content"):
                        ttft = (time.perf_counter() - start) * 1000
                        events.request.fire(request_type="TTFT", name="first token", response_time=ttft, response_length=0, exception=None, context={})
            ok = response.status_code == 200 and done
            if ok:
                response.success()
            else:
                response.failure("HTTP %s%s" % (response.status_code, "" if done else ", no [DONE]"))
        end = time.perf_counter() - state["t0"]
        state["completed"] += 1
        if not ok:
            state["failed"] += 1
        if WARMUP <= end <= SECONDS:
            state["in_window"] += 1
        if ok and ttft is not None and start - state["t0"] >= WARMUP:
            state["ttft"].append(ttft)
`;

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  note(`endpoint-load: ${error.message}`);
} finally {
  await stopServer();
  cleanup();
  if (values.keep) note(`raw outputs kept in ${work}`);
}
process.exit(exitCode);
