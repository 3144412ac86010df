"""Zero-shot generation speed, fp32 against bf16, through the hub as a user translates:
sentences/s and generated tokens/s of one model in both precisions, in one run.

    python benchmarks/generate_throughput.py --data outputs/demo/data-bin \\
        --dev examples/sample_corpus/dev/en-de.sent.tsv --target-lang de [--path checkpoint.pt]

Without ``--path`` the model is ``--arch`` at initialisation: its outputs are noise but the work
per token is a trained model's (beam 6, no repeated 8-grams, up to 1.2 x source + 10 tokens);
the outputs' lengths are printed because the two precisions may stop at different lengths.
The precisions take turns over the sentence batches, so a change in the machine's load biases
neither.  Prints one JSON line.
"""

import argparse
import json
import time

import torch

from fairseq_marge.build import build_from_args
from fairseq_marge.hub_interface import MargeHubInterface, load_checkpoint
from gemm_peak import cpu_name


def hub_model(args) -> MargeHubInterface:
    torch.manual_seed(0)  # the same initialisation in both precisions
    if args.path:
        return load_checkpoint(args.path, args.data, cpu=True)
    spm = f"{args.data}/sentencepiece.model"
    cfg, task, model = build_from_args([args.data, "--task", "marge", "--arch", args.arch, "--cpu",
                                        "--bpe", "sentencepiece", "--sentencepiece-model", spm])
    return MargeHubInterface(cfg, task, model).eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a marge data directory (dictionary, sentencepiece model)")
    parser.add_argument("--dev", required=True, help="a dev TSV: id, source, reference per line")
    parser.add_argument("--target-lang", required=True)
    parser.add_argument("--path", help="a checkpoint (default: --arch at initialisation)")
    parser.add_argument("--arch", default="marge_small")
    parser.add_argument("--sentences", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8, help="sentences per generate call")
    args = parser.parse_args()

    with open(args.dev, encoding="utf-8") as lines:
        sources = [line.rstrip("\n").split("\t")[1] for line in lines][: args.sentences]
    hubs = {"fp32": hub_model(args), "bf16": hub_model(args).bfloat16()}
    seconds = {name: 0.0 for name in hubs}
    tokens = {name: 0 for name in hubs}
    batches = [sources[i:i + args.batch] for i in range(0, len(sources), args.batch)]
    for name, hub in hubs.items():  # warm-up
        hub.translate(batches[0][:1], target_lang=args.target_lang)
    for batch in batches:
        for name, hub in hubs.items():
            encoded = [hub.encode(text) for text in batch]
            start = time.perf_counter()
            hypos = hub.generate(encoded, beam=6, no_repeat_ngram_size=8, max_len_a=1.2, max_len_b=10,
                                 inference_step_args={"target_lang": args.target_lang})
            seconds[name] += time.perf_counter() - start
            tokens[name] += sum(len(h[0]["tokens"]) for h in hypos)
    result = {"model": args.path or f"{args.arch} at initialisation", "sentences": len(sources)}
    for name in hubs:
        result[f"{name}_sentences_per_s"] = round(len(sources) / seconds[name], 2)
        result[f"{name}_generated_tokens_per_s"] = round(tokens[name] / seconds[name], 1)
        result[f"{name}_mean_output_tokens"] = round(tokens[name] / len(sources), 1)
    result["bf16_over_fp32_sentences_per_s"] = round(seconds["fp32"] / seconds["bf16"], 3)
    result["cpu"], result["threads"] = cpu_name(), torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
