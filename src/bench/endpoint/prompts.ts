import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { createRandom } from '../../engine/sampling.js';
import { TOKENIZER_CORPUS } from '../../model/corpus.js';
import type { Prompt } from './types.js';

/** Characters per token of English text under GPT-style BPE: OpenAI's rule of thumb, used when no tokenizer is given. */
export const CHARS_PER_TOKEN_ESTIMATE = 4;

/** Counts and cuts tokens: the model's tokenizer, or the documented approximation. */
export interface TokenCounter {
  /** `tokenizer.json` it came from, or null for the approximation. */
  source: string | null;
  /** A function property, not a method: callers pass it on detached (`countTokens: counter.count`). */
  count: (text: string) => number;
  /** The longest prefix of `text` with at most `tokens` tokens. */
  truncate(text: string, tokens: number): string;
}

/** Loads `tokenizer.json` from a file, a model directory or an artifact (its tokenizer sits beside the model). */
export async function loadTokenCounter(location: string): Promise<TokenCounter> {
  const info = await stat(location).catch(() => null);
  if (!info) throw usageError(`--tokenizer ${location} does not exist`, 'TOKENIZER_NOT_FOUND');
  const file = info.isDirectory() ? path.join(location, 'tokenizer.json') : location;
  if (!(await stat(file).catch(() => null)))
    throw usageError(`${location} has no tokenizer.json`, 'TOKENIZER_NOT_FOUND', {
      hint: 'pass the model directory or its tokenizer.json',
    });
  // tokenizer_config.json is optional beside it (special tokens); a broken one is named rather than ignored.
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const configText = await readFile(configFile, 'utf8').catch(() => '{}');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(configText) as Record<string, unknown>;
  } catch {
    throw usageError(`${configFile} is not valid JSON`, 'TOKENIZER_INVALID');
  }
  const { TextTokenizer } = await import('../../engine/tokenizer.js');
  const tokenizer = await TextTokenizer.load(file, config);
  return {
    source: file,
    count: (text) => tokenizer.encode(text, { addSpecialTokens: false }).length,
    truncate: (text, tokens) => tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false }).slice(0, tokens)),
  };
}

export const approximateTokenCounter: TokenCounter = {
  source: null,
  count: (text) => Math.max(1, Math.round(text.length / CHARS_PER_TOKEN_ESTIMATE)),
  truncate: (text, tokens) => {
    const cut = text.slice(0, tokens * CHARS_PER_TOKEN_ESTIMATE);
    // End on a word boundary so the estimate is not skewed by a dangling half-word.
    const space = cut.lastIndexOf(' ');
    return space > cut.length / 2 ? cut.slice(0, space) : cut;
  },
};

/** A normal variate (Box–Muller) from a uniform source. */
function normal(random: () => number, mean: number, stddev: number): number {
  if (stddev === 0) return mean;
  const u = 1 - random();
  const v = random();
  return mean + stddev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const WORDS = TOKENIZER_CORPUS.split(/\s+/).filter(Boolean);

/** Corpus text of about `tokens` tokens starting at a seeded place, after `lead`, cut to exactly `tokens` by `counter`. */
export function corpusText(lead: string, tokens: number, counter: TokenCounter, offset: number): string {
  let text = lead;
  // Enough words for the target length under any sane tokenizer (a word is rarely under one token).
  for (let w = 0; w < tokens + 8; w += 1) text += ` ${WORDS[(offset + w) % WORDS.length]}`;
  return counter.truncate(text, tokens);
}

/** One synthetic prompt of `tokens` tokens (a trace line's `input_length`), its text placed by `seed`. */
export function lengthPrompt(tokens: number, counter: TokenCounter, seed: number, lead = `Request ${seed}.`): Prompt {
  const offset = Math.floor(createRandom(seed)() * WORDS.length);
  return { text: corpusText(lead, tokens, counter, offset) };
}

/**
 * `count` distinct prompts whose lengths follow Normal(mean, stddev) tokens (at least 1). Each starts at a different
 * place in the built-in corpus with a numbered preamble, so a server's prefix cache cannot turn the benchmark into a
 * cache benchmark — unless `prefix` asks for exactly that: then `prefix.count` distinct shared prefixes of
 * `prefix.tokens` tokens each, prompt i starting with prefix i mod count, before its own distinct part.
 */
export function syntheticPrompts(options: {
  count: number;
  mean: number;
  stddev: number;
  counter: TokenCounter;
  seed?: number;
  prefix?: { tokens: number; count: number };
}): Prompt[] {
  const random = createRandom(options.seed ?? 1);
  const prefixes: string[] = [];
  for (let j = 0; j < (options.prefix?.count ?? 0); j += 1) {
    prefixes.push(
      corpusText(
        `Shared context ${j + 1}.`,
        options.prefix!.tokens,
        options.counter,
        Math.floor(random() * WORDS.length),
      ),
    );
  }
  const prompts: Prompt[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const tokens = Math.max(1, Math.round(normal(random, options.mean, options.stddev)));
    const own = corpusText(`Request ${i + 1}.`, tokens, options.counter, Math.floor(random() * WORDS.length));
    prompts.push({ text: prefixes.length > 0 ? `${prefixes[i % prefixes.length]!}\n\n${own}` : own });
  }
  return prompts;
}

/**
 * Prompts from a dataset: JSONL (one object per line) or a JSON array (ShareGPT files are one). Each entry is
 * `{"prompt"|"text": string}`, `{"messages": [{role, content}]}`, or ShareGPT's `{"conversations": [{from, value}]}`
 * (the first human turn is the prompt, as vLLM's benchmark does); an optional `max_tokens` sets that prompt's output length.
 */
export async function datasetPrompts(file: string): Promise<Prompt[]> {
  const entries = await readDatasetEntries(file);
  const prompts = entries
    .map(({ value, where }) => datasetPrompt(value, `--dataset ${file} ${where}`))
    .filter((p): p is Prompt => p !== null);
  if (prompts.length === 0)
    throw usageError(`--dataset ${file} has no prompts`, 'DATASET_INVALID', {
      hint: 'one JSON object per line: {"prompt": "…"}',
    });
  return prompts;
}

/** A conversation to play turn by turn (--multi-turn): its opening system messages and its user turns. */
export interface Conversation {
  system: Array<{ role: string; content: string }>;
  turns: Array<{ content: string; maxTokens?: number }>;
}

/**
 * Conversations from a dataset, for --multi-turn: `{"messages": [...]}` (system messages before the first user turn
 * open it; every user message is a turn) or ShareGPT's `{"conversations": [{from, value}]}` (every human turn). The
 * recorded assistant answers are not sent: each turn resends the history with the answers the server actually gave.
 * `max_tokens` applies to every turn; a plain `{"prompt"}` line is a conversation of one turn.
 */
export async function datasetConversations(file: string): Promise<Conversation[]> {
  const conversations: Conversation[] = [];
  for (const { value, where } of await readDatasetEntries(file)) {
    const at = `--dataset ${file} ${where}`;
    const prompt = datasetPrompt(value, at);
    if (prompt === null) continue;
    const entry = value as Record<string, unknown>;
    const maxTokens = prompt.maxTokens === undefined ? {} : { maxTokens: prompt.maxTokens };
    if (Array.isArray(entry.messages)) {
      const messages = prompt.messages!;
      const firstUser = messages.findIndex((m) => m.role === 'user');
      if (firstUser === -1) throw usageError(`${at} has no user message`, 'DATASET_INVALID');
      conversations.push({
        system: messages.slice(0, firstUser).filter((m) => m.role === 'system'),
        turns: messages.filter((m) => m.role === 'user').map((m) => ({ content: m.content, ...maxTokens })),
      });
    } else if (Array.isArray(entry.conversations)) {
      const turns = (entry.conversations as Array<{ from?: unknown; value?: unknown }>)
        .filter(
          (turn) =>
            ['human', 'user'].includes(String(turn?.from)) && typeof turn.value === 'string' && turn.value !== '',
        )
        .map((turn) => ({ content: turn.value as string, ...maxTokens }));
      conversations.push({ system: [], turns });
    } else conversations.push({ system: [], turns: [{ content: prompt.text, ...maxTokens }] });
  }
  if (conversations.length === 0) throw usageError(`--dataset ${file} has no conversations`, 'DATASET_INVALID');
  return conversations;
}

async function readDatasetEntries(file: string): Promise<Array<{ value: unknown; where: string }>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usageError(`cannot read --dataset ${file}: ${error.code ?? error.message}`, 'DATASET_INVALID');
  });
  const entries: Array<{ value: unknown; where: string }> = [];
  if (text.trimStart().startsWith('[')) {
    let array: unknown;
    try {
      array = JSON.parse(text);
    } catch (error) {
      throw usageError(`--dataset ${file} is not valid JSON: ${(error as Error).message}`, 'DATASET_INVALID');
    }
    (array as unknown[]).forEach((value, i) => entries.push({ value, where: `entry ${i + 1}` }));
  } else {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        entries.push({ value: JSON.parse(line), where: `line ${i + 1}` });
      } catch {
        throw usageError(`--dataset ${file} line ${i + 1} is not JSON`, 'DATASET_INVALID', {
          hint: 'one JSON object per line: {"prompt": "…"}',
        });
      }
    });
  }
  return entries;
}

/** One dataset entry as a prompt (null for a ShareGPT conversation that opens with the model). */
export function datasetPrompt(value: unknown, where: string): Prompt | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw usageError(`${where} is not a JSON object`, 'DATASET_INVALID');
  const entry = value as Record<string, unknown>;
  const maxTokens = entry.max_tokens ?? entry.output_len;
  if (maxTokens !== undefined && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens <= 0)) {
    throw usageError(
      `${where}: \`max_tokens\` must be a positive integer, got ${JSON.stringify(maxTokens)}`,
      'DATASET_INVALID',
    );
  }
  const withMax = (prompt: Prompt): Prompt => (maxTokens === undefined ? prompt : { ...prompt, maxTokens });
  const plain = entry.prompt ?? entry.text;
  if (typeof plain === 'string') return withMax({ text: plain });
  if (Array.isArray(entry.messages)) {
    const messages = entry.messages.map((m: unknown) => {
      const message = m as { role?: unknown; content?: unknown };
      if (typeof message?.role !== 'string' || typeof message.content !== 'string')
        throw usageError(`${where}: each message needs string \`role\` and \`content\``, 'DATASET_INVALID');
      return { role: message.role, content: message.content };
    });
    return withMax({ text: messages.map((m) => m.content).join('\n'), messages });
  }
  if (Array.isArray(entry.conversations)) {
    const turns: readonly unknown[] = entry.conversations;
    const human = turns.find((turn) => ['human', 'user'].includes(String((turn as { from?: unknown })?.from)));
    const content = (human as { value?: unknown } | undefined)?.value;
    // ShareGPT has conversations that open with the model; vLLM's benchmark skips those too.
    return typeof content === 'string' && content !== '' ? withMax({ text: content }) : null;
  }
  throw usageError(`${where} has no \`prompt\`, \`text\`, \`messages\` or \`conversations\``, 'DATASET_INVALID');
}
