import { usageError } from '../../errors.js';
import type { EndpointApi, Prompt } from './types.js';

/** The URL a run sends to, split the way undici's Pool wants it. */
export interface Endpoint {
  api: EndpointApi;
  /** `http://host:port`, for the connection pool. */
  origin: string;
  /** Request path (with any query string the user gave). */
  path: string;
  /** The URL as printed and saved: no credentials, no query string. */
  display: string;
  /** `Authorization: Basic …` when the URL carried user:password (never printed). */
  basicAuth: string | undefined;
}

const DEFAULT_PATHS: Record<EndpointApi, string> = {
  'openai-chat': '/v1/chat/completions',
  'openai-completions': '/v1/completions',
  vllm: '/v1/completions',
  tgi: '/generate_stream',
};

/** The API a path implies, for URLs given without --api. */
function apiFromPath(pathname: string): EndpointApi | undefined {
  if (pathname.endsWith('/chat/completions')) return 'openai-chat';
  if (pathname.endsWith('/completions')) return 'openai-completions';
  if (pathname.endsWith('/generate_stream')) return 'tgi';
  return undefined;
}

/**
 * Resolves the target URL and API: a full endpoint URL is used as given; a bare server URL (`http://host:8000`, or
 * `…/v1`) gets the API's standard path. Without --api the path decides, else OpenAI chat.
 */
export function resolveEndpoint(url: string, api?: EndpointApi): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`\`${url}\` is not a URL`, 'INVALID_URL', { hint: 'give the server, e.g. http://localhost:8000' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw usageError(`Expected an http:// or https:// URL, got \`${parsed.protocol}\``, 'INVALID_URL');
  }
  const resolvedApi = api ?? apiFromPath(parsed.pathname) ?? 'openai-chat';
  let pathname = parsed.pathname.replace(/\/+$/, '');
  if (pathname === '') pathname = DEFAULT_PATHS[resolvedApi];
  else if (pathname.endsWith('/v1')) pathname += DEFAULT_PATHS[resolvedApi].replace(/^\/v1/, '');
  const basicAuth =
    parsed.username || parsed.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`
      : undefined;
  return {
    api: resolvedApi,
    origin: parsed.origin,
    path: pathname + parsed.search,
    display: parsed.origin + pathname,
    basicAuth,
  };
}

/** The JSON body of one streaming request. */
export function requestBody(
  api: EndpointApi,
  prompt: Prompt,
  options: { model: string | null; maxTokens: number; temperature?: number },
): string {
  const maxTokens = prompt.maxTokens ?? options.maxTokens;
  const sampling = options.temperature === undefined ? {} : { temperature: options.temperature };
  switch (api) {
    case 'openai-chat':
      return JSON.stringify({
        model: options.model,
        messages: prompt.messages ?? [{ role: 'user', content: prompt.text }],
        max_tokens: maxTokens,
        stream: true,
        stream_options: { include_usage: true },
        ...sampling,
      });
    case 'openai-completions':
    case 'vllm':
      return JSON.stringify({
        model: options.model,
        prompt: prompt.text,
        max_tokens: maxTokens,
        stream: true,
        stream_options: { include_usage: true },
        // vLLM's own benchmark does the same: every request generates exactly max_tokens, so runs compare.
        ...(api === 'vllm' ? { ignore_eos: true } : {}),
        ...sampling,
      });
    case 'tgi':
      return JSON.stringify({
        inputs: prompt.text,
        parameters: { max_new_tokens: maxTokens, details: true, ...sampling },
        stream: true,
      });
  }
}

/**
 * Reads one response stream event by event. `onEvent` returns true when the event carried generated text, i.e.
 * a token (or a chunk of tokens) arrived; the caller timestamps those.
 */
export interface StreamReader {
  onEvent(data: string): boolean;
  /** The generated text of the last event for which onEvent returned true. */
  readonly lastText: string;
  /** The stream said it is complete (`[DONE]`, TGI's final event with `generated_text`). */
  readonly done: boolean;
  /** The server's own count of generated tokens, when it sent one (OpenAI `usage`, TGI `details`). */
  readonly completionTokens: number | undefined;
  readonly promptTokens: number | undefined;
  /** Why the stream is not what the API says it should be; set once, then the reader stops looking. */
  readonly failure: 'malformed_stream' | 'stream_error' | undefined;
}

export function createStreamReader(api: EndpointApi): StreamReader {
  return api === 'tgi' ? new TgiStreamReader() : new OpenAiStreamReader(api === 'openai-chat');
}

abstract class JsonStreamReader implements StreamReader {
  done = false;
  lastText = '';
  completionTokens: number | undefined;
  promptTokens: number | undefined;
  failure: 'malformed_stream' | 'stream_error' | undefined;

  onEvent(data: string): boolean {
    if (this.failure) return false;
    if (this.isEnd(data)) {
      this.done = true;
      return false;
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      this.failure = 'malformed_stream';
      return false;
    }
    if (typeof event !== 'object' || event === null) {
      this.failure = 'malformed_stream';
      return false;
    }
    if ('error' in event && event.error) {
      this.failure = 'stream_error';
      return false;
    }
    return this.read(event as Record<string, unknown>);
  }

  protected isEnd(_data: string): boolean {
    return false;
  }

  protected abstract read(event: Record<string, unknown>): boolean;
}

class OpenAiStreamReader extends JsonStreamReader {
  constructor(private readonly chat: boolean) {
    super();
  }

  protected override isEnd(data: string): boolean {
    return data === '[DONE]';
  }

  protected read(event: Record<string, unknown>): boolean {
    const usage = event.usage as { completion_tokens?: unknown; prompt_tokens?: unknown } | null | undefined;
    if (usage && typeof usage.completion_tokens === 'number') this.completionTokens = usage.completion_tokens;
    if (usage && typeof usage.prompt_tokens === 'number') this.promptTokens = usage.prompt_tokens;
    const choices = event.choices;
    if (!Array.isArray(choices)) {
      if (usage) return false;
      this.failure = 'malformed_stream';
      return false;
    }
    const choice = choices[0] as
      { delta?: { content?: unknown; reasoning_content?: unknown }; text?: unknown } | undefined;
    if (!choice) return false;
    if (this.chat) {
      const delta = choice.delta;
      // Reasoning models stream their thinking as reasoning_content: output tokens all the same.
      const text =
        (typeof delta?.reasoning_content === 'string' ? delta.reasoning_content : '') +
        (typeof delta?.content === 'string' ? delta.content : '');
      this.lastText = text;
      return text !== '';
    }
    this.lastText = typeof choice.text === 'string' ? choice.text : '';
    return this.lastText !== '';
  }
}

class TgiStreamReader extends JsonStreamReader {
  protected read(event: Record<string, unknown>): boolean {
    const token = event.token as { text?: unknown; special?: unknown } | undefined;
    if (!token || typeof token !== 'object') {
      this.failure = 'malformed_stream';
      return false;
    }
    if (typeof event.generated_text === 'string') {
      // TGI's last event carries the whole text and, with details: true, the server's token count.
      this.done = true;
      const details = event.details as { generated_tokens?: unknown } | null | undefined;
      if (details && typeof details.generated_tokens === 'number') this.completionTokens = details.generated_tokens;
    }
    this.lastText = typeof token.text === 'string' ? token.text : '';
    return token.special !== true && typeof token.text === 'string';
  }
}
