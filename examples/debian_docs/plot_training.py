"""Plots of a MARGE run over training, from its log and its re-index reports.

Four panels, against the update count: the training and validation NLL; beta, the weight of the
relevance score in cross-attention; the share of cross-attention on the best-scored evidence
document; and, per re-index, the share of same- and cross-language links that reach a chunk of
the target's own article group (a translation, for cross-language links), which tells whether
retrieval improves, next to the share that random links within the shard would reach.

    python examples/debian_docs/plot_training.py --log train.log --reindex CKPT_DIR/reindex \
        --meta DATA_BIN/train.meta.npy --out training.png
"""

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fairseq_logs import read_log


def read_reindex(directory):
    reports = sorted((json.loads(p.read_text()) for p in Path(directory).glob("links_gen*.json")),
                     key=lambda r: r["generation"])
    update = np.cumsum([r["updates_since_last_index"] for r in reports])
    return reports, update


def random_link_level(meta: np.ndarray):
    """The share of links that would reach the target's article group if every target linked
    to random documents of its shard: (same-language, cross-language), averaged over targets."""

    def count(*columns):  # for each document, how many documents share these columns
        inverse = np.unique(np.stack(columns, 1), axis=0, return_inverse=True)[1].ravel()
        return np.bincount(inverse)[inverse]

    shard, lang, group = (meta[k].astype(np.int64) for k in ("shard", "lang", "group"))
    in_shard, in_lang, in_group, in_group_lang = (
        count(shard), count(shard, lang), count(shard, group), count(shard, group, lang))
    mono = (in_group_lang - 1) / np.maximum(in_lang - 1, 1)
    cross = (in_group - in_group_lang) / np.maximum(in_shard - in_lang, 1)
    targets = meta["may_be_target"].astype(bool)
    return mono[targets].mean(), cross[targets].mean()


def series(records, key):
    points = [(r["num_updates"], r[key]) for r in records if key in r and "num_updates" in r]
    return np.array(points).T if points else np.zeros((2, 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", required=True, help="fairseq-train log (--log-format simple)")
    parser.add_argument("--reindex", required=True, help="the run's reindex/ directory")
    parser.add_argument("--meta", required=True, help="the training split's .meta.npy")
    parser.add_argument("--out", required=True, help="PNG file")
    args = parser.parse_args()

    log = read_log(args.log)
    reports, reindex_update = read_reindex(args.reindex)
    figure = Figure(figsize=(11, 8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2).ravel()

    for kind, style in (("train", "-"), ("valid", "o-")):
        axes[0].plot(*series(log[kind], "nll_loss"), style, label=f"{kind} NLL (base 2)")
    axes[0].set_title("reconstruction NLL")
    axes[1].plot(*series(log["train"], "beta"), "-")
    axes[1].set_title("beta (weight of f in cross-attention)")
    axes[2].plot(*series(log["valid"], "attn_best"), "o-")  # the criterion logs it in validation
    axes[2].set_title("share of attention on the best-scored document (valid)")
    if reports:
        chance = dict(zip(("mono_links_in_group", "cross_links_in_group"),
                          random_link_level(np.load(args.meta))))
        for (key, label), colour in zip(
            (("cross_links_in_group", "cross-language links to a translation"),
             ("mono_links_in_group", "same-language links within the article")), ("C0", "C1")
        ):
            shares = [r[key] for r in reports]
            if not any(shares):
                continue  # e.g. no same-language links asked for (--mono-links 0)
            axes[3].plot(reindex_update, shares, "o-", color=colour, label=label)
            axes[3].axhline(chance[key], color=colour, linestyle=":", label="  random links in the shard")
        planners = [r.get("planner", "retrieval") for r in reports]
        for update, before, after in zip(reindex_update[1:], planners, planners[1:]):
            if after != before:  # a --planner-schedule hand-over
                axes[3].axvline(update, color="grey", linestyle="--", label=f"{before} -> {after} planner")
        axes[3].set_yscale("log")
    axes[3].set_title("links reaching the target's article group, per re-index")
    for ax in axes:
        ax.set_xlabel("update")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    figure.tight_layout()
    figure.savefig(args.out)
    print(f"plots: {args.out}")


if __name__ == "__main__":
    main()
