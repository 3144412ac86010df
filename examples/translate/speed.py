"""Generation speed of a MARGE checkpoint vs fairseq's ``transformer`` of the same size, with the
same beam, on the same inputs, in one run; and of MARGE with ``--no-repeat-ngram-size`` on.

The transformer copies MARGE's width, FFN sizes, heads and depth (its decoder has MARGE's
self-attention-only and cross-attention layers, all with cross-attention), learns its
positions and shares all embeddings, as MARGE does; it is freshly initialised, since only its speed is measured.  So that
both models do the same work, every output is forced to exactly --output-tokens tokens (EOS is
blocked before that length and forced at it); the same batches go through the same task code.

    python examples/translate/speed.py --path CKPT --data DATA_DIR --dev DEV_DIR
"""

import argparse
import json
import time
from argparse import Namespace

import torch
from fairseq.models.transformer import TransformerModel, base_architecture

from fairseq_marge.evaluation.dev_sets import read_sentences
from fairseq_marge.hub_interface import load_checkpoint


def same_size_transformer(marge_cfg, task) -> TransformerModel:
    args = Namespace(
        encoder_embed_dim=marge_cfg.encoder_embed_dim,
        encoder_ffn_embed_dim=marge_cfg.encoder_ffn_embed_dim,
        encoder_layers=marge_cfg.encoder_layers,
        encoder_attention_heads=marge_cfg.encoder_attention_heads,
        encoder_normalize_before=marge_cfg.encoder_normalize_before,
        decoder_embed_dim=marge_cfg.encoder_embed_dim,
        decoder_ffn_embed_dim=marge_cfg.decoder_ffn_embed_dim,
        decoder_layers=marge_cfg.decoder_self_layers + marge_cfg.decoder_layers,
        decoder_attention_heads=marge_cfg.decoder_attention_heads,
        decoder_normalize_before=marge_cfg.decoder_normalize_before,
        share_all_embeddings=True,
        encoder_learned_pos=True,
        decoder_learned_pos=True,
        layernorm_embedding=True,
        max_source_positions=marge_cfg.max_source_positions,
        max_target_positions=marge_cfg.max_target_positions,
        dropout=0.0,
    )
    base_architecture(args)
    return TransformerModel.build_model(args, task)


def seconds_per_pass(hub, generator, model, tokens, target_lang) -> float:
    start = time.perf_counter()
    for batch in hub._build_batches(tokens, skip_invalid_size_inputs=False):
        hub.task.inference_step(generator, [model], batch, target_lang=target_lang)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="MARGE checkpoint file")
    parser.add_argument("--data", required=True, help="data directory (dict.txt, sentencepiece.model)")
    parser.add_argument("--dev", required=True, help="dev directory (en-xx.sent.tsv)")
    parser.add_argument("--lang", default="de", help="translate the first --sentences of en-LANG into LANG")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--beam", type=int, default=6)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=4000, help="source tokens per batch")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model (the first warms up)")
    parser.add_argument("--no-repeat-ngram-size", type=int, default=8,
                        help="also time MARGE with repeated N-grams blocked (the paper's 8; 0: don't)")
    args = parser.parse_args()

    hub = load_checkpoint(args.path, args.data, cpu=True, max_tokens=args.max_tokens)
    transformer = same_size_transformer(hub.cfg.model, hub.task).eval()
    en, _ = read_sentences(args.dev, args.lang, args.sentences)
    tokens = [hub.encode(s)[: hub.model.max_positions()[0] - 2] for s in en]  # cut to fit: speed only
    n = args.no_repeat_ngram_size
    runs = {"marge": (hub.model, 0)}  # name: (model, N-gram size)
    if n:
        runs[f"marge_no_repeat_{n}gram"] = (hub.model, n)
    runs["transformer"] = (transformer, 0)
    generators = {
        name: hub.task.build_generator([model], Namespace(
            beam=args.beam, max_len_a=0, max_len_b=args.output_tokens, min_len=args.output_tokens,
            no_repeat_ngram_size=ngram_size,
        ))
        for name, (model, ngram_size) in runs.items()
    }
    # the runs take turns, so that a change in machine load affects all; best pass of each
    seconds = {name: [] for name in runs}
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, (model, _) in runs.items():
                seconds[name].append(seconds_per_pass(hub, generators[name], model, tokens, args.lang))
    result = {"sentences": len(tokens), "beam": args.beam, "output_tokens": args.output_tokens,
              "threads": torch.get_num_threads()}
    for name, (model, _) in runs.items():
        result[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "sentences_per_second": round(len(tokens) / min(seconds[name]), 2),
            "seconds_per_pass": [round(t, 2) for t in seconds[name]],
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
