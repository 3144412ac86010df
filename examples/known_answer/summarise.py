"""Print a known-answer report (``evaluate.py --out``) as two Markdown tables.

    python examples/known_answer/summarise.py outputs/known_answer/cipher/report.json
"""

import json
import sys


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---:|" * len(columns)]
    for row in rows:
        cells = ["" if row.get(c) is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])
                 for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(path):
    report = json.load(open(path))
    print("Per re-index (twin-link share: cross-language links that reach the twin):\n")
    print(table(report["reindex"], ["generation", "update", "seconds", "twin_link_share", "twins_in_cluster",
                                    "targets_used"]))
    print("\nHeld-out twins, per checkpoint (NLL in bits per token):\n")
    print(table(report["checkpoints"], ["num_updates", "nll_retrieved", "nll_shuffled", "nll_gain", "p_at_1_g",
                                        "p_at_1_embedding", "beta"]))


if __name__ == "__main__":
    main(sys.argv[1])
