import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { renderHtmlReport } from '../../src/bench/endpoint/report.js';
import type { EndpointBenchResult, EndpointRun, MetricSummary, TimelinePoint } from '../../src/bench/endpoint/types.js';
import { percentiles, Recorder } from '../../src/bench/stats.js';
import { createRandom } from '../../src/engine/sampling.js';
import { decodePng } from '../helpers/png.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Seeded, so fixtures and the bytes of the report are the same on every run. */
const random = createRandom;

function summarize(recorder: Recorder): MetricSummary {
  return { ...percentiles(recorder.summary()), count: recorder.count, histogram: recorder.encode() };
}

/** Records `count` values spread around `median` (a right-skewed tail, as latencies are). */
function recorded(next: () => number, count: number, median: number): Recorder {
  const recorder = new Recorder();
  for (let i = 0; i < count; i++)
    recorder.record(median * Math.exp((next() - 0.5) * 0.6 + (next() < 0.05 ? next() : 0)));
  return recorder;
}

function timeline(
  next: () => number,
  seconds: number,
  perSecond: number,
  inFlight: number,
  ttftMs: number,
  latencyMs: number,
): TimelinePoint[] {
  return Array.from({ length: seconds }, (_, t) => {
    const completed = Math.round(perSecond * (0.85 + next() * 0.3));
    return {
      t,
      completed,
      errors: t % 7 === 3 ? 1 : 0,
      outputTokens: completed * 128,
      inFlight: Math.max(1, Math.round(inFlight * (0.9 + next() * 0.2))),
      ttftP50Ms: t === 5 ? null : Math.round(ttftMs * (0.8 + next() * 0.4)),
      latencyP50Ms: Math.round(latencyMs * (0.9 + next() * 0.2)),
    };
  });
}

/** One step whose numbers agree with each other: 128 output tokens per request, requests/s = in flight ÷ latency. */
function run(
  next: () => number,
  load: Partial<EndpointRun>,
  shape: { errors: Record<string, number>; ttftMs: number; itlMs: number; seconds: number; inFlight: number },
): EndpointRun {
  const latencyMs = shape.ttftMs + shape.itlMs * 127;
  const requests = Math.round((shape.seconds * shape.inFlight * 1000) / latencyMs);
  const errors = Object.values(shape.errors).reduce((a, b) => a + b, 0);
  const ok = requests - errors;
  const tps = new Recorder();
  for (let i = 0; i < ok; i++) tps.record((1000 / shape.itlMs) * (0.9 + next() * 0.2));
  return {
    ...load,
    requests,
    errors,
    errorsByKind: shape.errors,
    durationS: shape.seconds,
    requestsPerSecond: requests / shape.seconds,
    outputTokensPerSecond: (ok * 128) / shape.seconds,
    ttftMs: summarize(recorded(next, ok, shape.ttftMs)),
    itlMs: summarize(recorded(next, ok, shape.itlMs)),
    tpsPerRequest: summarize(tps),
    latencyMs: summarize(recorded(next, ok, latencyMs)),
    goodput: null,
    sloAttainment: null,
    metSlo: null,
    outputTokens: ok * 128,
    promptTokens: ok * 256,
    tokenSource: 'usage',
    warmup: { durationS: 5, requests: 3 },
    client: { cpuMsPerRequest: 0.4, eventLoopDelayMs: { p50: 1, p99: 3, max: 8 } },
    timeline: timeline(next, shape.seconds, requests / shape.seconds, shape.inFlight, shape.ttftMs, latencyMs),
  };
}

/** A three-step concurrency sweep (1, 8, 32) with an SLO, a knee, a capacity and errors at the top step. */
function sweep(): EndpointBenchResult {
  const next = random(42);
  const runs = [
    run(next, { concurrency: 1 }, { errors: {}, ttftMs: 45, itlMs: 12, seconds: 30, inFlight: 1 }),
    run(next, { concurrency: 8 }, { errors: {}, ttftMs: 120, itlMs: 16, seconds: 30, inFlight: 8 }),
    run(
      next,
      { concurrency: 32 },
      { errors: { http_503: 3, timeout: 1 }, ttftMs: 900, itlMs: 40, seconds: 30, inFlight: 31 },
    ),
  ];
  const attainment = [1, 0.99, 0.41];
  runs.forEach((r, i) => {
    r.sloAttainment = attainment[i]!;
    r.metSlo = attainment[i]! >= 0.95;
    r.goodput = r.requestsPerSecond * attainment[i]!;
  });
  return {
    schemaVersion: 1,
    kind: 'endpoint',
    target: 'http://gpu-node-1:8000/v1/completions?a=1&b=2',
    api: 'vllm',
    model: 'meta-llama/Llama-3.1-8B-Instruct',
    load: { kind: 'concurrency', levels: [1, 8, 32] },
    prompts: {
      source: 'synthetic',
      tokens: { mean: 256, stddev: 0 },
      tokenizer: 'meta-llama/Llama-3.1-8B-Instruct',
      dataset: null,
      count: 64,
    },
    maxTokens: 128,
    slo: { ttftMs: 500, latencyMs: 5000 },
    sloAttainment: 0.95,
    runs,
    knee: {
      index: 1,
      concurrency: 8,
      requestsPerSecond: runs[1]!.requestsPerSecond,
      outputTokensPerSecond: runs[1]!.outputTokensPerSecond,
      reason: 'c=32 adds 44% req/s for 650% more TTFT p50',
      saturated: true,
    },
    capacity: {
      index: 1,
      concurrency: 8,
      requestsPerSecond: runs[1]!.requestsPerSecond,
      outputTokensPerSecond: runs[1]!.outputTokensPerSecond,
      slo: { ttftMs: 500, latencyMs: 5000 },
    },
    workers: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    interrupted: false,
  };
}

/** Fails on any SVG coordinate or path point that is not a finite number. */
function assertFiniteGeometry(html: string): void {
  assert.doesNotMatch(html, /NaN|Infinity|undefined/);
  for (const [, d] of html.matchAll(/<path[^>]* d="([^"]*)"/g)) {
    for (const point of d!.split(' ')) {
      assert.match(point, /^[ML]-?\d+(\.\d+)?,-?\d+(\.\d+)?$/, `path point ${point}`);
    }
  }
  for (const [, name, value] of html.matchAll(/ (x|y|x1|y1|x2|y2|cx|cy|r)="([^"]*)"/g)) {
    assert.ok(Number.isFinite(Number(value)), `${name}="${value}"`);
  }
}

const svgCount = (html: string) => html.match(/<svg /g)?.length ?? 0;

test('an SLO far above the data is named, not drawn to scale: the data keeps the chart', () => {
  const result = { ...sweep(), slo: { ttftMs: 60_000, latencyMs: 5000 } };
  const html = renderHtmlReport(result);
  assert.ok(html.includes('SLO 60,000 ms (above the chart)'), 'the off-scale SLO is named');
  // The TTFT chart's y axis ends near the data (p99 of ~2.5 s), not at 60 s.
  const ttftChart = html.slice(
    html.indexOf('aria-label="Time to first token"'),
    html.indexOf('</svg>', html.indexOf('aria-label="Time to first token"')),
  );
  assert.doesNotMatch(ttftChart, />60,000</);
  assert.ok(
    html.includes('SLO 5,000 ms') && !html.includes('SLO 5,000 ms (above the chart)'),
    'an SLO within the data range is still drawn',
  );
  assertFiniteGeometry(html);
});

test('the report is one self-contained page: no scripts, no external URLs, an SVG per chart with finite coordinates', () => {
  const result = { ...sweep(), model: '<script>alert("x")</script>' };
  const html = renderHtmlReport(result);

  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link|<img|<iframe|@import|url\(|\ssrc=|\shref=/i);
  // The target is shown as text; no other URL may appear, so nothing is fetched when the page opens.
  const escapedTarget = 'http://gpu-node-1:8000/v1/completions?a=1&amp;b=2';
  assert.ok(html.includes(escapedTarget));
  assert.doesNotMatch(html.split(escapedTarget).join(''), /https?:\/\//);
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));

  // Four charts across the sweep, four over time for the heaviest step.
  assert.equal(svgCount(html), 8);
  for (const svg of html.match(/<svg [\s\S]*?<\/svg>/g)!) {
    assert.match(svg, /<path class="line" d="M/);
    assert.match(svg, /<circle /);
  }
  assertFiniteGeometry(html);

  const body = html.slice(html.indexOf('<tbody>'), html.indexOf('</tbody>'));
  assert.equal(body.match(/<tr>/g)?.length, 3);
  assert.match(body, /<th scope="row">c=1<\/th>/);
  assert.match(body, /c=8<span class="badge knee">knee<\/span><span class="badge capacity">capacity<\/span>/);
  assert.match(body, /http_503: 3, timeout: 1/);
  assert.match(html, /SLO 500 ms/);
  assert.match(html, /<strong>Knee<\/strong> at concurrency 8/);
  assert.match(html, /<strong>Capacity at the SLO<\/strong>: concurrency 8/);
  assert.match(html, /Over time at concurrency 32/);

  assert.equal(renderHtmlReport(result), html, 'the same result gives the same bytes');
});

test('edge cases render without NaN: a single step, no successful requests, an empty timeline, no SLO/knee/capacity', () => {
  const next = random(7);
  const base = sweep();
  const empty: MetricSummary = summarize(new Recorder());
  const failed: EndpointRun = {
    ...run(
      next,
      { users: 50, spawnRate: 5 },
      { errors: { connection: 12 }, ttftMs: 1000, itlMs: 30, seconds: 10, inFlight: 50 },
    ),
    requests: 12,
    requestsPerSecond: 1.2,
    ttftMs: empty,
    itlMs: empty,
    tpsPerRequest: empty,
    latencyMs: empty,
    outputTokensPerSecond: 0,
    outputTokens: 0,
    timeline: [],
    interrupted: true,
  };
  const cases: Array<[string, EndpointBenchResult]> = [
    [
      'single step, nothing succeeded',
      {
        ...base,
        load: { kind: 'users', users: 50, spawnRate: 5 },
        slo: null,
        runs: [failed],
        knee: null,
        capacity: null,
        interrupted: true,
        model: null,
      },
    ],
    [
      'single rate step',
      {
        ...base,
        load: { kind: 'rate', levels: [2.5], arrival: 'poisson' },
        runs: [
          { ...base.runs[0]!, concurrency: undefined, rate: 2.5, goodput: null, metSlo: null, sloAttainment: null },
        ],
        slo: null,
        knee: null,
        capacity: null,
      },
    ],
    ['no steps at all', { ...base, runs: [], knee: null, capacity: null }],
  ];
  for (const [name, result] of cases) {
    const html = renderHtmlReport(result);
    assertFiniteGeometry(html);
    if (result.runs.length > 0) assert.ok(svgCount(html) >= 4, name);
  }
  const failedHtml = renderHtmlReport(cases[0]![1]);
  assert.match(failedHtml, /no data/);
  assert.match(failedHtml, /connection: 12/);
  assert.match(failedHtml, /interrupted/);
  assert.match(failedHtml, /No timeline was recorded/);
  assert.match(renderHtmlReport(cases[1]![1]), /<th scope="row">2\.5 req\/s<\/th>/);
});

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));

test('renders in headless Chromium with the charts drawn', { timeout: 120_000 }, async (t) => {
  if (!CHROMIUM) {
    t.skip('chromium not installed (apt-get install chromium); skipping the rendering check');
    return;
  }
  const dir = await tempDir('llmops-report-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const html = renderHtmlReport(sweep());
  const page = path.join(dir, 'report.html');
  const shot = path.join(dir, 'shot.png');
  await writeFile(page, html);
  await promisify(execFile)(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--force-color-profile=srgb',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      '--hide-scrollbars',
      '--window-size=1200,2400',
      `--screenshot=${shot}`,
      `file://${page}`,
    ],
    { timeout: 60_000 },
  );
  const png = await readFile(shot);
  if (process.env.LLMOPS_REPORT_SHOT) await writeFile(process.env.LLMOPS_REPORT_SHOT, png);
  const image = decodePng(png);
  assert.equal(image.width, 1200);

  const { pixels, channels } = image;
  const total = image.width * image.height;
  let inked = 0;
  for (let i = 0; i < pixels.length; i += channels)
    if (pixels[i]! < 235 || pixels[i + 1]! < 235 || pixels[i + 2]! < 235) inked++;
  assert.ok(inked > total * 0.01, `only ${inked} of ${total} pixels are not white`);

  // Every series colour the charts use must show up on screen, so a page of text without charts fails.
  const colours = [
    ...new Set([...html.matchAll(/<path class="line"[^>]* stroke="#([0-9a-f]{6})"/g)].map((m) => m[1]!)),
  ];
  assert.ok(colours.length >= 4, `series colours ${colours.join(', ')}`);
  for (const hex of colours) {
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    let count = 0;
    for (let i = 0; i < pixels.length; i += channels) {
      if (Math.abs(pixels[i]! - r!) <= 8 && Math.abs(pixels[i + 1]! - g!) <= 8 && Math.abs(pixels[i + 2]! - b!) <= 8)
        count++;
    }
    assert.ok(count >= 150, `colour #${hex} covers only ${count} pixels`);
  }
});
