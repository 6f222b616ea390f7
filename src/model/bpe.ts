/**
 * A byte-level BPE tokenizer in GPT-2's format, trained deterministically on a fixed corpus and written as a
 * tokenizer.json that Hugging Face's tokenizers (Rust, Python) and tokenizers.js load.
 */

// GPT-2's pre-tokenization pattern: contractions, letters, numbers, other symbols, whitespace.
const PRE_TOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from bytes to printable characters (so tokens are valid strings). */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b += 1) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b += 1) printable.push(b);
  for (let b = 0xae; b <= 0xff; b += 1) printable.push(b);
  const map = new Array<string>(256);
  for (const b of printable) map[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b += 1) {
    if (map[b] === undefined) {
      map[b] = String.fromCharCode(256 + extra);
      extra += 1;
    }
  }
  return map;
}

/** Vocabulary order of the 256 byte tokens, as GPT-2 orders them (printable bytes first). */
function byteTokenOrder(map: string[]): string[] {
  const printable = [...map.entries()].filter(([b, ch]) => ch.charCodeAt(0) === b).map(([, ch]) => ch);
  const rest = [...map.entries()].filter(([b, ch]) => ch.charCodeAt(0) !== b).map(([, ch]) => ch);
  return [...printable, ...rest];
}

/** The vocabulary id of each byte's token (ids 0-255 in GPT-2's order). */
export function byteTokenIds(): number[] {
  const map = byteToUnicode();
  const order = byteTokenOrder(map);
  return map.map((ch) => order.indexOf(ch));
}

export interface TrainedBpe {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
}

/**
 * Learns merges until the vocabulary (256 bytes + merges) reaches `vocabSize - specialTokens` or no pair occurs twice.
 * Ties between equally frequent pairs go to the lexicographically smallest, so training is deterministic.
 */
export function trainBpe(corpus: string, vocabSize: number, specialTokens: number): TrainedBpe {
  const map = byteToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const word of corpus.match(PRE_TOKENIZE) ?? []) {
    const mapped = [...encoder.encode(word)].map((b) => map[b]!).join('');
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
  }
  const words = [...wordCounts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([word, count]) => ({ symbols: [...word], count }));

  const vocab = new Map<string, number>();
  for (const token of byteTokenOrder(map)) vocab.set(token, vocab.size);
  const merges: Array<[string, string]> = [];
  const target = vocabSize - specialTokens;

  while (vocab.size < target) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i += 1) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (!best) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    merges.push([left, right]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const word of words) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i += 1) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          next.push(merged);
          i += 1;
        } else next.push(word.symbols[i]!);
      }
      word.symbols = next;
    }
  }
  return { vocab, merges };
}

/** tokenizer.json for a trained BPE plus special tokens appended after the vocabulary. */
export function tokenizerJson(bpe: TrainedBpe, specialTokens: string[]): object {
  const vocab: Record<string, number> = {};
  for (const [token, id] of bpe.vocab) vocab[token] = id;
  const addedTokens = specialTokens.map((content, index) => {
    const id = bpe.vocab.size + index;
    vocab[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
