"""Parameter counts of the named architectures, next to the paper's ~960M for MARGE.

Models are built on the meta device (shapes only), so marge_large costs no memory.  The paper
does not state its vocabulary; mBART's 250k sentencepiece vocabulary (which MARGE's
multilingual setting shares) is the default here.

    python benchmarks/param_count.py [--vocab 250000]
"""

import argparse
import json
from argparse import Namespace

import torch
from fairseq.data import Dictionary
from fairseq.models import ARCH_CONFIG_REGISTRY

import fairseq_marge  # noqa: F401
from fairseq_marge.models.marge import MargeConfig, MargeModel

PAPER_PARAMS = 960e6


class _VocabOnlyTask:
    def __init__(self, vocab_size):
        self.source_dictionary = Dictionary()
        for i in range(vocab_size - len(self.source_dictionary)):
            self.source_dictionary.add_symbol(f"w{i}")


def count(arch: str, task) -> dict:
    args = Namespace()
    ARCH_CONFIG_REGISTRY[arch](args)
    cfg = MargeConfig(**{k: v for k, v in vars(args).items() if k in MargeConfig.__dataclass_fields__})
    with torch.device("meta"):
        model = MargeModel.build_model(cfg, task)
    embedding = model.encoder.embed_tokens.weight.numel()
    total = sum(p.numel() for p in model.parameters())
    return {"arch": arch, "params": total, "params_without_embeddings": total - embedding,
            "embedding": embedding}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", type=int, default=250_000)
    args = parser.parse_args()
    task = _VocabOnlyTask(args.vocab)
    for arch in ("marge_tiny", "marge_small", "marge_base", "marge_large"):
        row = count(arch, task)
        row["vocab"] = args.vocab
        if arch == "marge_large":
            row["paper_params"] = PAPER_PARAMS
            row["ratio_to_paper"] = round(row["params"] / PAPER_PARAMS, 3)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
