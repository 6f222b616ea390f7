import { readFile } from 'node:fs/promises';
import { Tokenizer as UntypedTokenizer } from '@huggingface/tokenizers';
import { usageError } from '../errors.js';

/**
 * The part of a tokenizers.js `Tokenizer` this engine calls. The package's .d.ts (0.2.x) imports its own files without
 * extensions, which NodeNext resolution (llmops's and the scaffold's) cannot follow, so the class arrives as an
 * unresolved type that would let any call through; this names the surface once so each call is checked.
 */
export interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
}

/** tokenizers.js's `Tokenizer` (tokenizer.json, tokenizer_config.json), typed as {@link HfTokenizer}. */
export const Tokenizer = UntypedTokenizer as new (tokenizerJson: object, tokenizerConfig: object) => HfTokenizer;

/** The model's tokenizer (tokenizer.json via @huggingface/tokenizers) with the metadata generation needs. */
export class TextTokenizer {
  private readonly tokenizer: HfTokenizer;
  /** The Jinja chat template from tokenizer_config.json, when the model has one. */
  readonly chatTemplate: string | undefined;
  readonly config: Record<string, unknown>;

  private constructor(tokenizer: HfTokenizer, config: Record<string, unknown>) {
    this.tokenizer = tokenizer;
    this.config = config;
    const template = config.chat_template;
    this.chatTemplate = typeof template === 'string' ? template : undefined;
  }

  static async load(tokenizerPath: string, config: Record<string, unknown>): Promise<TextTokenizer> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(tokenizerPath, 'utf8'));
    } catch (error) {
      throw usageError(`cannot read ${tokenizerPath}: ${(error as Error).message.split('\n')[0]}`, 'TOKENIZER_INVALID');
    }
    try {
      return new TextTokenizer(new Tokenizer(json as object, config), config);
    } catch (error) {
      throw usageError(
        `${tokenizerPath} is not a tokenizer this engine can load: ${(error as Error).message.split('\n')[0]}`,
        'TOKENIZER_INVALID',
      );
    }
  }

  /** Token ids of a text, with the special tokens the tokenizer adds by default (e.g. a BOS). */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  /** The id of a token string (e.g. `<|endoftext|>`), if the vocabulary has it. */
  tokenId(token: string): number | undefined {
    const ids = this.tokenizer.encode(token, { add_special_tokens: false }).ids;
    return ids.length === 1 ? ids[0] : undefined;
  }

  /** The string of a special token configured in tokenizer_config.json (`eos_token` may be a string or an object). */
  specialToken(key: 'eos_token' | 'bos_token' | 'pad_token' | 'unk_token'): string | undefined {
    const value = this.config[key];
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
      return (value as { content: string }).content;
    return undefined;
  }
}

/**
 * Streams text from token ids without ever emitting half a character. Byte-level BPE splits multi-byte UTF-8
 * characters across tokens; decoding a token alone would give U+FFFD. We decode a small window of recent tokens
 * and emit only the part that is final (the approach of TGI and vLLM): O(window) per token, not O(n).
 */
export class IncrementalDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly tokenizer: TextTokenizer) {}

  /** Adds a token; returns the text that became final (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const newText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (newText.length > prefixText.length && !newText.endsWith('\uFFFD')) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return newText.slice(prefixText.length);
    }
    return '';
  }

  /** The text still held back at the end of generation (an incomplete character stays as the tokenizer decodes it). */
  flush(): string {
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const newText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return newText.slice(prefixText.length);
  }
}
