"""Several known-answer runs in one figure: twin-link share per re-index and held-out P@1 of g
per checkpoint, against updates, one line per run (an ablation, or the regimes of a study).

    python examples/known_answer/compare.py --out runs.png \
        "whole documents=outputs/e0/report.json" "length curriculum=outputs/a/report.json"

Each argument is LABEL=REPORT, a ``report.json`` that ``evaluate.py`` wrote.
"""

import argparse
import json

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def labelled_report(text: str):
    label, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not LABEL=REPORT")
    with open(path) as f:
        return label, json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=labelled_report, metavar="LABEL=REPORT")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="")
    args = parser.parse_args()

    figure = Figure(figsize=(10, 3.8))
    canvas = FigureCanvasAgg(figure)
    links, p_at_1 = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for i, (label, report) in enumerate(args.runs):
        curve, checkpoints = report["reindex"], report["checkpoints"]
        links.plot([r["update"] for r in curve], [r["twin_link_share"] for r in curve], "-", color=f"C{i}",
                   label=label)
        p_at_1.plot([c["num_updates"] for c in checkpoints], [c["p_at_1_g"] for c in checkpoints], "o-",
                    color=f"C{i}", label=label)
    for ax, title in ((links, "twin-link share, per re-index"), (p_at_1, "held-out P@1 of g, per checkpoint")):
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("updates")
        ax.set_title(title)
    links.legend(loc="lower right", fontsize=7)
    figure.suptitle(args.title)
    figure.tight_layout()
    canvas.print_png(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
