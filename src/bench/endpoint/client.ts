import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { createStreamReader } from './api.js';
import { SseParser } from './sse.js';
import type { EndpointApi, ErrorKind, RequestSample } from './types.js';

/** What one request needs; built once per prompt, sent many times. */
export interface StreamingRequest {
  path: string;
  body: string;
  headers: Record<string, string>;
}

/** A line this long without a newline is not an event stream (a misbehaving server must not grow our memory). */
const MAX_PENDING_CHARS = 1 << 20;

class RequestTimeout extends Error {}
const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Sends one streaming request and measures it where the bytes arrive: undici's dispatch handler is called per
 * chunk off the socket, and each chunk is timestamped once (performance.now(), monotonic) before it is parsed.
 * Never rejects: every failure becomes a sample with its error kind. Resolves null when it ends after `signal` was
 * aborted (the run destroys its pool then), since a request the user cut short says nothing about the server.
 */
export function sendStreamingRequest(
  dispatcher: Dispatcher,
  request: StreamingRequest,
  options: {
    api: EndpointApi;
    timeoutMs: number;
    scheduledMs?: number;
    signal?: AbortSignal;
    /** Counts the tokens of the streamed text (--tokenizer); without it the text is not kept. */
    countTokens?: (text: string) => number;
    /** Keep the generated text of a successful request in the sample (a conversation's next turn resends it). */
    keepText?: boolean;
  },
): Promise<RequestSample | null> {
  return new Promise((resolve) => {
    const reader = createStreamReader(options.api);
    const sse = new SseParser();
    const startMs = performance.now();
    /** 0 until the response starts. */
    let status = 0;
    let ttftMs: number | null = null;
    let lastTokenMs = 0;
    let contentEvents = 0;
    const keepText = options.countTokens !== undefined || options.keepText === true;
    let text = '';
    const itlGapsMs: number[] = [];
    let contentTypeWrong = false;
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    /** When the chunk being parsed came off the socket: every event in it arrived then. */
    let chunkArrivedMs = 0;

    const finish = (error: ErrorKind | undefined) => {
      if (settled) return;
      const endMs = performance.now();
      settled = true;
      clearTimeout(timer);
      // The run aborts by destroying its connection pool: whatever this request saw then says nothing about the server.
      if (options.signal?.aborted) return resolve(null);
      const completionTokens = reader.completionTokens;
      const tokenizerTokens = options.countTokens && error === undefined ? options.countTokens(text) : null;
      resolve({
        startMs,
        scheduledMs: options.scheduledMs ?? startMs,
        endMs,
        ok: error === undefined,
        ...(error === undefined ? {} : { error }),
        status,
        ttftMs,
        itlGapsMs,
        outputTokens: completionTokens ?? tokenizerTokens ?? contentEvents,
        tokenSource: completionTokens !== undefined ? 'usage' : tokenizerTokens !== null ? 'tokenizer' : 'stream',
        tokenCounts: { usage: completionTokens ?? null, tokenizer: tokenizerTokens, events: contentEvents },
        ...(options.keepText && error === undefined ? { text } : {}),
        promptTokens: reader.promptTokens ?? null,
      });
    };
    const onEvent = (data: string) => {
      if (!reader.onEvent(data)) return;
      const now = chunkArrivedMs;
      if (ttftMs === null) ttftMs = now - startMs;
      else itlGapsMs.push(now - lastTokenMs);
      lastTokenMs = now;
      contentEvents += 1;
      if (keepText) text += reader.lastText;
    };

    const timer = setTimeout(() => controller?.abort(new RequestTimeout()), options.timeoutMs);
    timer.unref?.();
    if (options.signal?.aborted) return finish(undefined);

    dispatcher.dispatch(
      {
        path: request.path,
        method: 'POST',
        body: request.body,
        headers: request.headers,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      },
      {
        onRequestStart(c) {
          controller = c;
        },
        onResponseStart(_c, statusCode, headers) {
          status = statusCode;
          const contentType = headers['content-type'];
          contentTypeWrong =
            statusCode < 300 && typeof contentType === 'string' && !contentType.includes('text/event-stream');
        },
        onResponseData(c, chunk) {
          if (status >= 300 || contentTypeWrong || settled) return;
          chunkArrivedMs = performance.now();
          sse.push(chunk, onEvent);
          if (sse.bufferedChars > MAX_PENDING_CHARS) {
            finish('malformed_stream');
            c.abort(new Error('not an event stream'));
          }
        },
        onResponseEnd() {
          if (status >= 300) return finish(`http_${status}`);
          if (contentTypeWrong) return finish('malformed_stream');
          if (reader.failure) return finish(reader.failure);
          if (!reader.done) return finish(sse.midEvent || contentEvents > 0 ? 'stream_closed' : 'malformed_stream');
          finish(undefined);
        },
        onResponseError(_c, error) {
          if (error instanceof RequestTimeout || UNDICI_TIMEOUTS.has((error as { code?: string }).code ?? ''))
            return finish('timeout');
          if (status >= 300) return finish(`http_${status}`);
          finish(status !== 0 ? 'stream_closed' : 'connection');
        },
      },
    );
  });
}
