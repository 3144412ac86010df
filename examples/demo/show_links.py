"""Is g learning?  Per re-index of a training run, the share of cross-language links that reach
the target's article group (its translations), for the plan that was trained on and for g's own
links, as bars in the terminal.

While a bootstrap planner builds the plans (``--planner lexical``), g's own links come from
``--report-g-links``; once g builds the plans, they are the plan's.

    python examples/demo/show_links.py SAVE_DIR
"""

import argparse
import json
from pathlib import Path


def bar(share: float, width: int = 30) -> str:
    filled = int(round(share * width))
    return "#" * filled + "." * (width - filled)


def reindex_rows(reindex_dir: Path):
    """(update, planner, plan's in-group share, g's in-group share or None) per re-index."""
    plans = {r["generation"]: r for r in map(_read, reindex_dir.glob("links_gen*.json"))}
    own = {r["generation"]: r for r in map(_read, reindex_dir.glob("g_links_gen*.json"))}
    update = 0
    for generation in sorted(plans):
        plan = plans[generation]
        update += plan["updates_since_last_index"]
        g = own.get(generation, plan if plan["planner"] == "retrieval" else None)
        yield update, plan["planner"], plan["cross_links_in_group"], g and g["cross_links_in_group"]


def _read(path: Path):
    return json.loads(path.read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("save_dir", type=Path)
    args = parser.parse_args()
    print("Cross-language links that reach a translation of the target, per re-index:")
    print(f"  {'update':>6}  {'plan by':<9} {'plan':>6}   g's own links")
    for update, planner, plan_share, g_share in reindex_rows(args.save_dir / "reindex"):
        g_text = "(not reported)" if g_share is None else f"{bar(g_share)} {g_share:6.1%}"
        print(f"  {update:6d}  {planner:<9} {plan_share:6.1%}   {g_text}")


if __name__ == "__main__":
    main()
