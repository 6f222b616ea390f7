#!/usr/bin/env node
// The tests' streaming LLM server (test/helpers/stream-server.ts) as a process of its own, for tests and benchmarks
// that must not share an event loop with the load generator they measure. Needs `npm run build` (it runs from dist/).
// Usage: node scripts/bench/stream-server.mjs [--ttft MS] [--itl MS] [--tokens N] [--tokens-per-chunk N]
//        [--behaviours ok,http_429,…] [--no-usage] [--usage-skew 2,-2] [--hold-headers] [--stall-from MS --stall-for MS]
//        [--ttft-per-in-flight MS] [--port N]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { startStreamServer } = await import(path.join(root, 'dist/test/helpers/stream-server.js'));
const { values } = parseArgs({
  options: {
    ttft: { type: 'string', default: '0' },
    itl: { type: 'string', default: '0' },
    tokens: { type: 'string', default: '8' },
    behaviours: { type: 'string', default: 'ok' },
    port: { type: 'string', default: '0' },
    'tokens-per-chunk': { type: 'string', default: '1' },
    'no-usage': { type: 'boolean', default: false },
    'usage-skew': { type: 'string' },
    'ttft-per-in-flight': { type: 'string', default: '0' },
    'hold-headers': { type: 'boolean', default: false },
    'stall-from': { type: 'string' },
    'stall-for': { type: 'string', default: '0' },
  },
});
const server = await startStreamServer(
  {
    ttftMs: Number(values.ttft),
    itlMs: Number(values.itl),
    tokens: Number(values.tokens),
    behaviours: values.behaviours.split(','),
    tokensPerChunk: Number(values['tokens-per-chunk']),
    usage: !values['no-usage'],
    holdHeaders: values['hold-headers'],
    ttftPerInFlightMs: Number(values['ttft-per-in-flight']),
    ...(values['usage-skew'] === undefined ? {} : { usageSkew: values['usage-skew'].split(',').map(Number) }),
    ...(values['stall-from'] === undefined
      ? {}
      : { stallFromMs: Number(values['stall-from']), stallForMs: Number(values['stall-for']) }),
  },
  Number(values.port),
);
process.stderr.write(`stream server on ${server.url}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
