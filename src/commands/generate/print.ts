import type { Generation } from '../../engine/index.js';

/** What `generate --json` prints: the text and its tokens, why it stopped, and its speed to two decimals. */
export function generationDocument(generation: Generation): Record<string, unknown> {
  return {
    text: generation.text,
    tokenIds: generation.tokenIds,
    promptTokens: generation.promptTokens,
    finishReason: generation.finishReason,
    ttftMs: round(generation.ttftMs),
    tokensPerSecond: round(generation.tokensPerSecond),
  };
}

/** The line after the streamed text (on stderr): tokens, why it stopped, TTFT and speed. */
export function generationSummary(generation: Generation): string {
  return `${generation.tokenIds.length} tokens (${generation.finishReason}) · TTFT ${generation.ttftMs.toFixed(1)} ms · ${generation.tokensPerSecond.toFixed(1)} tokens/s`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
