"""What a known-answer run learned, for a person: the twin-link share per re-index as a bar
chart in the terminal (and a PNG), and how g ranks the candidates for one held-out document.

    python examples/known_answer/show.py --data DATA --save-dir CKPTS --plot retrieval.png
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from evaluate import reindex_curve
from fairseq_marge.hub_interface import load_checkpoint


def bar(share: float, width: int = 40) -> str:
    filled = int(round(share * width))
    return "#" * filled + "." * (width - filled)


def shard_example(dataset, langs, min_pairs: int = 8):
    """(English documents, their twins) of the first training shard with ``min_pairs`` pairs:
    the candidates that re-indexing ranks for each target."""
    meta = dataset.metadata
    english = np.array([langs[l] == "en" for l in meta["lang"]])
    for shard in np.unique(meta["shard"]):
        docs = np.flatnonzero(meta["shard"] == shard)
        originals = docs[english[docs]]
        twins = [docs[(meta["group"][docs] == meta["group"][d]) & ~english[docs]] for d in originals]
        pairs = [(d, t[0]) for d, t in zip(originals, twins) if len(t) == 1]
        if len(pairs) >= min_pairs:
            return [int(d) for d, _ in pairs], [int(t) for _, t in pairs]
    return None


def main():
    logging.getLogger().setLevel(logging.INFO)  # importing fairseq leaves the root logger at DEBUG
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--save-dir", required=True, type=Path)
    parser.add_argument("--plot", help="also draw the curve here (PNG)")
    args = parser.parse_args()

    curve = reindex_curve(args.save_dir, args.save_dir / "train.log")
    print("Share of cross-language links that reach the target's twin, per re-index:")
    for row in curve:
        print(f"  update {row['update']:5d}  {bar(row['twin_link_share'])}  {row['twin_link_share']:6.1%}"
              f"   (twin in the target's cluster: {row['twins_in_cluster']:.1%})")
    if args.plot:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 3.5))
        canvas = FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        updates = [r["update"] for r in curve]
        ax.plot(updates, [r["twin_link_share"] for r in curve], "o-", label="links that reach the twin")
        ax.plot(updates, [r["twins_in_cluster"] for r in curve], "s--", label="targets with their twin in the cluster")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("updates")
        ax.set_title("retrieval learned from the reconstruction loss alone")
        ax.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        canvas.print_png(args.plot)
        print(f"  (plot: {args.plot})")

    hub = load_checkpoint(str(args.save_dir / "checkpoint_last.pt"), str(args.data), cpu=True)
    hub.task.load_dataset("train")
    dataset = hub.task.dataset("train")
    example = shard_example(dataset, hub.task.langs)
    if example:
        originals, twins = example
        text = lambda d: hub.decode(dataset.tokens[d])
        f = hub.relevance([text(d) for d in originals], [text(t) for t in twins])  # twins on the diagonal
        print(f"\nOne shard: {len(originals)} documents and their {len(twins)} twins, ranked by "
              "f = cos(g(x), g(z)); for the first document:")
        print(f"  document:  {text(originals[0])}")
        for rank, j in enumerate(f[0].argsort(descending=True)[:3].tolist(), 1):
            print(f"  {rank}. f={float(f[0, j]):.2f}  {text(twins[j])}  {'<- its twin' if j == 0 else ''}")
        found = int((f.argmax(dim=1) == torch.arange(len(originals))).sum())
        print(f"  In this shard g ranks the twin first for {found} of {len(originals)} documents "
              f"(chance: {1 / len(twins):.0%} of them).")


if __name__ == "__main__":
    main()
