#!/usr/bin/env python3
"""A GPT-2-style decoder of a chosen size, exported by PyTorch, for benchmarks and size-dependent tests.

The blocks, tokenizer, weight init (logits spread over several units, as a trained model's are) and
export (``torch.onnx.export``, opset 14, Optimum's decoder-with-past layout with ``position_ids``)
are those of ``export_reference_models.py``; only the dimensions change. No expected continuations
are written: this model is for speed and for checks that compare two runs of it, not a reference.

    /usr/bin/python3 scripts/reference/export_sized_gpt2.py OUT_DIR [--layers 12] [--hidden 768]
        [--heads 12] [--positions 2048] [--seed 1000] [--attention concat|gqa]

12 x 768 (the default) is ~86M parameters; 4 x 384 is ~10M. ``--attention gqa`` exports the same weights
in the GroupQueryAttention layout of ``export_reference_models.py``'s ``*-gqa`` variants (right padding,
a past that may be a buffer longer than the cache, ``new_key_values.*`` outputs; hidden / heads must be a
multiple of 8): the layout the engine's ``in-place`` KV path needs.
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
    parser.add_argument(
        "--attention",
        choices=["concat", "gqa"],
        default="concat",
        help="concat: Optimum's layout (present = past + new); gqa: com.microsoft::GroupQueryAttention",
    )
    args = parser.parse_args()
    if args.attention == "gqa" and (args.hidden % args.heads or (args.hidden // args.heads) % 8):
        parser.error("--attention gqa: GroupQueryAttention needs head_dim = hidden / heads, a multiple of 8")

    tok = ref.ByteLevelBPE(127, ref.GPT2_SPECIALS, bos_in_template=None)
    cfg = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": tok.size,
        "n_positions": args.positions,
        "n_ctx": args.positions,
        "n_embd": args.hidden,
        "n_layer": args.layers,
        "n_head": args.heads,
        "n_inner": 4 * args.hidden,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": False,
        "bos_token_id": tok.specials["<|endoftext|>"],
        "eos_token_id": tok.specials["<|endoftext|>"],
        "torch_dtype": "float32",
        "use_cache": True,
    }
    torch.manual_seed(args.seed)
    model = ref.GPT2LM(cfg, position_ids_input=True).eval()
    ref.init_weights(model, args.seed)
    ref.silence_eos(model, cfg["eos_token_id"])
    with torch.no_grad():
        model.wte.weight.mul_(args.residual_scale)
        model.wpe.weight.mul_(args.residual_scale)
        # Trained GPT-2s have a few residual dimensions with huge, nearly constant values ("massive activations").
        model.wpe.weight[:, : args.outlier_dims] += args.outlier_value
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
        {"add_prefix_space": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False, "model_max_length": args.positions, "tokenizer_class": "PreTrainedTokenizerFast"},
    )
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {parameters / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
