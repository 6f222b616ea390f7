/**
 * The self-test's stand-in LLM server: OpenAI chat completions over SSE with exactly known timing — the first token
 * `ttftMs` after the request arrived, then one token every `itlMs`, `tokens` in all, then `usage` and `[DONE]`.
 * Run as a process of its own (`node loopback-server.js --ttft 50 --itl 20 --tokens 8`), so its timers never wait on
 * the load generator's event loop; it prints `loopback server on http://127.0.0.1:PORT` on stderr.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Recorder } from '../stats.js';

export interface LoopbackTiming {
  ttftMs: number;
  itlMs: number;
  tokens: number;
}

/** What the server itself measured: request received → first token written, and the gaps between its writes. */
export interface LoopbackObserved {
  requests: number;
  ttftP50Ms: number;
  itlP50Ms: number;
}

/**
 * The server; GET /stats answers what it observed (its own timers can run late under load: the self-test compares the
 * client with this, not only with the nominal timing), POST /stats/reset forgets it (after the client's warm-up).
 */
export function createLoopbackServer(timing: LoopbackTiming): http.Server {
  let ttft = new Recorder();
  let itl = new Recorder();
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/stats/reset') {
      ttft = new Recorder();
      itl = new Recorder();
      requests = 0;
      return void res.writeHead(204).end();
    }
    if (req.url === '/stats') {
      const observed: LoopbackObserved = { requests, ttftP50Ms: ttft.percentile(50), itlP50Ms: itl.percentile(50) };
      const body = JSON.stringify(observed);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    if (req.method === 'GET') {
      const body = JSON.stringify({ object: 'list', data: [{ id: 'llmops-self-test', object: 'model' }] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    req.resume();
    req.on('end', () => {
      const arrivedMs = performance.now();
      let lastMs = 0;
      requests += 1;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      let sent = 0;
      const next = () => {
        if (res.destroyed) return;
        const now = performance.now();
        if (sent === 0) ttft.record(now - arrivedMs);
        else itl.record(now - lastMs);
        lastMs = now;
        res.write(
          `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok${sent} "},"finish_reason":null}]}\n\n`,
        );
        sent += 1;
        if (sent < timing.tokens) return void setTimeout(next, timing.itlMs);
        res.write(
          `data: {"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":${timing.tokens},"total_tokens":${timing.tokens + 1}}}\n\n`,
        );
        res.end('data: [DONE]\n\n');
      };
      setTimeout(next, timing.ttftMs);
    });
  });
  server.on('connection', (socket) => socket.setNoDelay(true));
  server.keepAliveTimeout = 60_000;
  return server;
}

// Run directly: serve on 127.0.0.1 until SIGTERM.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      ttft: { type: 'string', default: '50' },
      itl: { type: 'string', default: '20' },
      tokens: { type: 'string', default: '8' },
    },
  });
  const server = createLoopbackServer({
    ttftMs: Number(values.ttft),
    itlMs: Number(values.itl),
    tokens: Number(values.tokens),
  });
  server.listen(0, '127.0.0.1', () =>
    process.stderr.write(`loopback server on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`),
  );
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
