/** OpenAI-compatible request validation and response shapes. */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): object {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface GenerationRequest {
  model: string;
  prompt?: string;
  messages?: ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP: number;
  /** vLLM's `top_k`: sample among the k most likely tokens; 0 is off (-1 too, as vLLM takes it). */
  topK: number;
  /** OpenAI's `presence_penalty` and `frequency_penalty` (-2 to 2), vLLM's `repetition_penalty` (> 0; 1 is off). */
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  seed: number | undefined;
  stop: string[];
  /** OpenAI's `logit_bias`: token id → bias added to its logit (-100 bans it). */
  logitBias: Map<number, number>;
  /** vLLM's `ignore_eos`: generate all `max_tokens`, past end-of-sequence tokens (what load tests ask for). */
  ignoreEos: boolean;
  stream: boolean;
  includeUsage: boolean;
}

type Body = Record<string, unknown>;

const bad = (message: string, param: string) =>
  new HttpError(400, message, 'invalid_request_error', param, 'invalid_value');

function optionalNumber(body: Body, name: string, check: (n: number) => boolean, rule: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value))
    throw bad(`\`${name}\` must be ${rule}`, name);
  return value;
}

/** `logit_bias` as OpenAI defines it: `{"token id": bias}`, ids of this model's vocabulary, biases in [-100, 100]. */
function parseLogitBias(value: unknown, vocabSize: number | undefined): Map<number, number> {
  const bias = new Map<number, number>();
  if (value === undefined || value === null) return bias;
  if (typeof value !== 'object' || Array.isArray(value))
    throw bad('`logit_bias` must be an object mapping token ids to biases', 'logit_bias');
  for (const [key, raw] of Object.entries(value)) {
    const id = Number(key);
    if (!/^\d+$/.test(key) || (vocabSize !== undefined && id >= vocabSize))
      throw bad(
        `\`logit_bias\` key ${JSON.stringify(key)} is not a token id${vocabSize === undefined ? '' : ` (0 to ${vocabSize - 1})`}`,
        'logit_bias',
      );
    if (typeof raw !== 'number' || !(raw >= -100 && raw <= 100))
      throw bad(`\`logit_bias\` of token ${key} must be a number from -100 to 100`, 'logit_bias');
    bias.set(id, raw);
  }
  return bias;
}

/** Validates a completions or chat body; everything a client can get wrong is a 400 naming the field. */
export function parseGenerationRequest(
  body: unknown,
  kind: 'completions' | 'chat',
  defaults: { model: string; maxTokens: number; vocabSize?: number | undefined },
): GenerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('the request body must be a JSON object', 'body');
  const b = body as Body;
  const model = b.model ?? defaults.model;
  if (typeof model !== 'string') throw bad('`model` must be a string', 'model');
  if (model !== defaults.model)
    throw new HttpError(
      400,
      `The model \`${model}\` does not exist; this server serves \`${defaults.model}\``,
      'invalid_request_error',
      'model',
      'model_not_found',
    );

  let prompt: string | undefined;
  let messages: ChatMessage[] | undefined;
  if (kind === 'completions') {
    const p = b.prompt;
    if (typeof p === 'string') prompt = p;
    else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = p[0];
    else throw bad('`prompt` must be a string', 'prompt');
  } else {
    const m = b.messages;
    if (!Array.isArray(m) || m.length === 0) throw bad('`messages` must be a non-empty array', 'messages');
    messages = m.map((message, index) => {
      const msg = message as Body;
      if (typeof msg?.role !== 'string' || !['system', 'user', 'assistant', 'tool', 'developer'].includes(msg.role))
        throw bad(`\`messages[${index}].role\` must be system, user, assistant, tool or developer`, 'messages');
      if (typeof msg.content !== 'string') throw bad(`\`messages[${index}].content\` must be a string`, 'messages');
      return { role: msg.role, content: msg.content };
    });
  }
  const maxTokensField =
    kind === 'chat' && b.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens =
    optionalNumber(b, maxTokensField, (n) => Number.isInteger(n) && n > 0, 'a positive integer') ?? defaults.maxTokens;
  const temperature = optionalNumber(b, 'temperature', (n) => n >= 0 && n <= 2, 'between 0 and 2') ?? 1;
  const topP = optionalNumber(b, 'top_p', (n) => n > 0 && n <= 1, 'in (0, 1]') ?? 1;
  const topK =
    optionalNumber(b, 'top_k', (n) => Number.isInteger(n) && n >= -1, 'an integer >= -1 (-1 or 0: off)') ?? 0;
  const penalty = (name: string) => optionalNumber(b, name, (n) => n >= -2 && n <= 2, 'between -2 and 2') ?? 0;
  const repetitionPenalty = optionalNumber(b, 'repetition_penalty', (n) => n > 0, 'greater than 0') ?? 1;
  const seed = optionalNumber(b, 'seed', Number.isInteger, 'an integer');
  let stop: string[] = [];
  if (typeof b.stop === 'string') stop = [b.stop];
  else if (Array.isArray(b.stop) && b.stop.every((s) => typeof s === 'string') && b.stop.length <= 4)
    stop = b.stop as string[];
  else if (b.stop !== undefined && b.stop !== null) throw bad('`stop` must be a string or up to 4 strings', 'stop');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean')
    throw bad('`stream` must be a boolean', 'stream');
  const options = b.stream_options as Body | undefined;
  if (
    options !== undefined &&
    options !== null &&
    (typeof options !== 'object' || (options.include_usage !== undefined && typeof options.include_usage !== 'boolean'))
  ) {
    throw bad('`stream_options.include_usage` must be a boolean', 'stream_options');
  }
  if (b.n !== undefined && b.n !== 1) throw bad('only `n: 1` is supported', 'n');
  if (b.ignore_eos !== undefined && b.ignore_eos !== null && typeof b.ignore_eos !== 'boolean')
    throw bad('`ignore_eos` must be a boolean', 'ignore_eos');
  return {
    model,
    ...(prompt !== undefined ? { prompt } : {}),
    ...(messages ? { messages } : {}),
    maxTokens,
    temperature,
    topP,
    topK: Math.max(0, topK),
    presencePenalty: penalty('presence_penalty'),
    frequencyPenalty: penalty('frequency_penalty'),
    repetitionPenalty,
    seed,
    stop,
    logitBias: parseLogitBias(b.logit_bias, defaults.vocabSize),
    ignoreEos: b.ignore_eos === true,
    stream: b.stream === true,
    includeUsage: Boolean(options?.include_usage),
  };
}

export function usage(promptTokens: number, completionTokens: number): object {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}
