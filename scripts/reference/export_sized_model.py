#!/usr/bin/env python3
"""A GPT-2-style (or Llama-style) decoder of a chosen size, exported by PyTorch, for benchmarks and size-dependent tests.

The blocks, tokenizer, weight init (logits spread over several units, as a trained model's are) and
export (``torch.onnx.export``, opset 14, Optimum's decoder-with-past layout with ``position_ids``)
are those of ``export_reference_models.py``; only the dimensions change. No expected continuations
are written: this model is for speed and for checks that compare two runs of it, not a reference.

    /usr/bin/python3 scripts/reference/export_sized_model.py OUT_DIR [--layers 12] [--hidden 768]
        [--heads 12] [--positions 2048] [--seed 1000] [--attention concat|gqa]
        [--arch gpt2|llama] [--kv-heads 4] [--sdpa] [--vocab 32000]

12 x 768 (the default) is ~86M parameters; 4 x 384 is ~10M. ``--arch llama`` gives Llama blocks (RMSNorm,
RoPE, SwiGLU with an intermediate size of 8/3 x hidden) with ``--kv-heads`` KV heads shared by groups of
query heads (``repeat_kv`` in the concat layout): 12 x 768 with 4 KV heads is ~80M. ``--sdpa`` computes its
attention scores as torch.onnx exports scaled_dot_product_attention (transformers' default attention). ``--attention gqa`` exports the same weights
in the GroupQueryAttention layout of ``export_reference_models.py``'s ``*-gqa`` variants (right padding,
a past that may be a buffer longer than the cache, ``new_key_values.*`` outputs; hidden / heads must be a
multiple of 8): the layout the engine's ``in-place`` KV path needs. ``--vocab`` widens the vocabulary
(embedding, LM head, logits) to a real model's with tokens no merge reaches: the tokenizer's ~384 tokens
hide what a 32,000-150,000-wide logit row costs per token (sampling, the LM head).
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_reference_models as ref  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--positions", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--outlier-dims", type=int, default=0)
    parser.add_argument("--outlier-value", type=float, default=0.0)
    parser.add_argument("--residual-scale", type=float, default=1.0, help="multiplies the embeddings: trained GPT-2s carry a residual stream of norm in the hundreds")
    parser.add_argument("--arch", choices=["gpt2", "llama"], default="gpt2")
    parser.add_argument("--kv-heads", type=int, default=4, help="--arch llama: KV heads (a divisor of --heads)")
    parser.add_argument("--sdpa", action="store_true", help="--arch llama: scores as an export of scaled_dot_product_attention")
    parser.add_argument("--vocab", type=int, default=0, help="pad the vocabulary to this many tokens (0: the tokenizer's own)")
    parser.add_argument(
        "--attention",
        choices=["concat", "gqa"],
        default="concat",
        help="concat: Optimum's layout (present = past + new); gqa: com.microsoft::GroupQueryAttention",
    )
    args = parser.parse_args()
    if args.attention == "gqa" and (args.hidden % args.heads or (args.hidden // args.heads) % 8):
        parser.error("--attention gqa: GroupQueryAttention needs head_dim = hidden / heads, a multiple of 8")
    if args.arch == "llama" and args.heads % args.kv_heads:
        parser.error("--kv-heads must divide --heads")
    if args.sdpa and args.arch != "llama":
        parser.error("--sdpa needs --arch llama")
    if args.arch == "llama":
        tok = widen(ref.ByteLevelBPE(126, ref.LLAMA_SPECIALS, bos_in_template="<|begin_of_text|>"), args.vocab)
        cfg = ref.llama_config(
            tok,
            hidden=args.hidden,
            intermediate=8 * args.hidden // 3,
            layers=args.layers,
            heads=args.heads,
            kv_heads=args.kv_heads,
            head_dim=args.hidden // args.heads,
            positions=args.positions,
        )
        torch.manual_seed(args.seed)
        model = ref.LlamaLM(cfg).eval()
        for layer in model.layers:
            layer.sdpa = args.sdpa
        ref.init_weights(model, args.seed)
        ref.silence_eos(model, cfg["eos_token_id"])
        special = {"add_bos_token": True, "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}
        return export(args, model, cfg, tok, special)

    tok = widen(ref.ByteLevelBPE(127, ref.GPT2_SPECIALS, bos_in_template=None), args.vocab)
    cfg = ref.gpt2_config(
        tok, hidden=args.hidden, inner=4 * args.hidden, layers=args.layers, heads=args.heads, positions=args.positions
    )
    torch.manual_seed(args.seed)
    model = ref.GPT2LM(cfg, position_ids_input=True).eval()
    ref.init_weights(model, args.seed)
    ref.silence_eos(model, cfg["eos_token_id"])
    with torch.no_grad():
        model.wte.weight.mul_(args.residual_scale)
        model.wpe.weight.mul_(args.residual_scale)
        # Trained GPT-2s have a few residual dimensions with huge, nearly constant values ("massive activations").
        model.wpe.weight[:, : args.outlier_dims] += args.outlier_value
    return export(args, model, cfg, tok, {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})


def widen(tok, size):
    """Adds tokens no merge produces (" 00001q", ...) before the special tokens, up to ``size`` in all."""
    if size <= tok.size:
        return tok
    specials = list(tok.specials)
    index = 0
    while len(tok.vocab) + len(specials) < size:
        # "\u0120" is the byte-level alphabet's space: the token decodes to " 00001q".
        token = f"\u0120{index:05d}q"
        index += 1
        if token not in tok.vocab:
            tok.vocab[token] = len(tok.vocab)
    tok.specials = {s: len(tok.vocab) + i for i, s in enumerate(specials)}
    return tok


def export(args, model, cfg, tok, special):
    model.kv_layout = args.attention
    os.makedirs(args.out, exist_ok=True)
    # onnx.save_model appends external data to an existing file: a rerun into the same directory
    # would otherwise leave the old weights in model.onnx_data and point past them.
    for stale in ("model.onnx", "model.onnx_data"):
        if os.path.exists(os.path.join(args.out, stale)):
            os.remove(os.path.join(args.out, stale))
    with torch.no_grad():
        ref.export_onnx(model, os.path.join(args.out, "model.onnx"), external_data=True, merged=False)
    ref.write_json(os.path.join(args.out, "config.json"), cfg)
    ref.write_json(os.path.join(args.out, "generation_config.json"), {"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"], "do_sample": False})
    ref.write_json(os.path.join(args.out, "tokenizer.json"), tok.tokenizer_json())
    ref.write_json(
        os.path.join(args.out, "tokenizer_config.json"),
        {"add_prefix_space": False, **special, "clean_up_tokenization_spaces": False, "model_max_length": args.positions, "tokenizer_class": "PreTrainedTokenizerFast"},
    )
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {parameters / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
