import { readFile } from 'node:fs/promises';
import { usageError } from '../../errors.js';
import { datasetPrompt, lengthPrompt } from './prompts.js';
import type { TokenCounter } from './prompts.js';
import type { Prompt } from './types.js';

/** A request trace ready to replay: when each request leaves (ms after the first) and what it sends. */
export interface Trace {
  offsetsMs: number[];
  prompts: Prompt[];
  /** Seconds from the first request to the last, as replayed (scaled). */
  spanS: number;
}

/**
 * Reads a `--schedule` trace: JSONL, one request per line, in the Mooncake / AIPerf fixed-schedule shape —
 * `{"timestamp": MS, "input_length": N, "output_length": M}` — or with the request itself: `"prompt"`/`"text"` or
 * `"messages"` instead of `input_length`, `"max_tokens"` instead of `output_length`. Timestamps are milliseconds,
 * non-decreasing; the replay starts at the first one. `timeScale` multiplies the gaps (0.5 replays twice as fast).
 * `input_length` becomes a synthetic prompt of that many tokens (exact with a tokenizer, else estimated).
 */
export async function readTrace(
  file: string,
  options: { timeScale: number; counter: TokenCounter; limit?: number; seed: number },
): Promise<Trace> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usageError(`cannot read --schedule ${file}: ${error.code ?? error.message}`, 'SCHEDULE_INVALID');
  });
  const offsetsMs: number[] = [];
  const prompts: Prompt[] = [];
  const blocks = new Map<number, string>();
  let first: number | null = null;
  let previous = -Infinity;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && (options.limit === undefined || prompts.length < options.limit); i += 1) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `--schedule ${file} line ${i + 1}`;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw usageError(`${where} is not JSON`, 'SCHEDULE_INVALID', {
        hint: 'one JSON object per line: {"timestamp": 0, "input_length": 128, "output_length": 64}',
      });
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw usageError(`${where} is not a JSON object`, 'SCHEDULE_INVALID');
    const timestamp = entry.timestamp;
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
      throw usageError(
        `${where}: \`timestamp\` must be a number of milliseconds ≥ 0, got ${JSON.stringify(timestamp)}`,
        'SCHEDULE_INVALID',
      );
    }
    if (timestamp < previous)
      throw usageError(
        `${where}: timestamp ${timestamp} is earlier than the line before (${previous})`,
        'SCHEDULE_INVALID',
        { hint: 'sort the trace by timestamp' },
      );
    previous = timestamp;
    first ??= timestamp;
    offsetsMs.push((timestamp - first) * options.timeScale);
    prompts.push(tracePrompt(entry, where, options.counter, options.seed + prompts.length, blocks));
  }
  if (prompts.length === 0) throw usageError(`--schedule ${file} has no requests`, 'SCHEDULE_INVALID');
  return { offsetsMs, prompts, spanS: offsetsMs[offsetsMs.length - 1]! / 1000 };
}

/** Tokens per `hash_ids` block in Mooncake traces. */
export const TRACE_BLOCK_TOKENS = 512;

function tracePrompt(
  entry: Record<string, unknown>,
  where: string,
  counter: TokenCounter,
  seed: number,
  blocks: Map<number, string>,
): Prompt {
  const output = entry.output_length ?? entry.max_tokens;
  if (output !== undefined && (typeof output !== 'number' || !Number.isInteger(output) || output <= 0)) {
    throw usageError(
      `${where}: \`output_length\` must be a positive integer, got ${JSON.stringify(output)}`,
      'SCHEDULE_INVALID',
    );
  }
  const withOutput = (prompt: Prompt): Prompt => (output === undefined ? prompt : { ...prompt, maxTokens: output });
  const input = entry.input_length;
  if (input !== undefined) {
    if (typeof input !== 'number' || !Number.isInteger(input) || input <= 0) {
      throw usageError(
        `${where}: \`input_length\` must be a positive integer, got ${JSON.stringify(input)}`,
        'SCHEDULE_INVALID',
      );
    }
    const hashIds = entry.hash_ids;
    if (hashIds !== undefined) {
      if (!Array.isArray(hashIds) || !hashIds.every((id) => Number.isInteger(id) && id >= 0))
        throw usageError(`${where}: \`hash_ids\` must be an array of non-negative integers`, 'SCHEDULE_INVALID');
      return withOutput({ text: blockPrompt(hashIds as number[], input, counter, seed, blocks) });
    }
    return withOutput(lengthPrompt(input, counter, seed));
  }
  if (entry.prompt === undefined && entry.text === undefined && entry.messages === undefined) {
    throw usageError(`${where} has no \`input_length\`, \`prompt\`, \`text\` or \`messages\``, 'SCHEDULE_INVALID');
  }
  const prompt = datasetPrompt({ ...entry, max_tokens: undefined, output_length: undefined }, where);
  if (!prompt) throw usageError(`${where} has an empty prompt`, 'SCHEDULE_INVALID');
  return withOutput(prompt);
}

/**
 * A Mooncake-style prompt: block i of the request is the text of `hash_ids[i]` (512 tokens, the same text wherever the
 * id recurs, so requests that share ids share a prefix as they did in the recorded traffic and a prefix cache sees
 * the same hits), the last block cut so the prompt has `input_length` tokens, and any tokens beyond the blocks unique.
 */
function blockPrompt(
  hashIds: number[],
  inputTokens: number,
  counter: TokenCounter,
  seed: number,
  blocks: Map<number, string>,
): string {
  const parts: string[] = [];
  let remaining = inputTokens;
  for (const id of hashIds) {
    if (remaining <= 0) break;
    let block = blocks.get(id);
    if (block === undefined) {
      block = lengthPrompt(TRACE_BLOCK_TOKENS, counter, 1_000_003 + id, `Block ${id}.`).text;
      blocks.set(id, block);
    }
    parts.push(remaining >= TRACE_BLOCK_TOKENS ? block : counter.truncate(block, remaining));
    remaining -= TRACE_BLOCK_TOKENS;
  }
  if (remaining > 0) parts.push(lengthPrompt(remaining, counter, seed).text);
  return parts.join(' ');
}
