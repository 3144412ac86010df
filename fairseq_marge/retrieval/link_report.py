"""What a re-index retrieved, by language: the paper's Figure 2 for each index generation.

``links_gen{N}.json`` holds the raw counts (row: target language, column: evidence language)
with the re-index statistics; ``links_gen{N}.png`` shows each row as shares, so that languages
with few documents read as clearly as the large ones.
"""

import json
from pathlib import Path
from typing import List

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .link_threshold import Links


def link_matrix(links: Links, doc_langs: np.ndarray, num_langs: int) -> np.ndarray:
    """counts[target language, evidence language] of the kept links."""
    cells = doc_langs[links.target].astype(np.int64) * num_langs + doc_langs[links.evidence]
    return np.bincount(cells, minlength=num_langs * num_langs).reshape(num_langs, num_langs)


def write_link_matrix(path_prefix: Path, matrix: np.ndarray, langs: List[str], stats: dict):
    path_prefix.parent.mkdir(parents=True, exist_ok=True)
    record = dict(stats, langs=langs, links=matrix.tolist(),
                  layout="links[target language][evidence language]")
    path_prefix.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    _heat_map(matrix, langs, f"generation {stats['generation']}").print_png(
        str(path_prefix.with_suffix(".png"))
    )


def _heat_map(matrix: np.ndarray, langs: List[str], title: str) -> FigureCanvasAgg:
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.35 * len(langs)
    figure = Figure(figsize=(size + 1, size))
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    image = ax.imshow(shares, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(langs)), langs, rotation=90)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("evidence language")
    ax.set_ylabel("target language")
    ax.set_title(f"retrieved links, {title}")
    figure.colorbar(image, ax=ax, label="share of the target language's links")
    figure.tight_layout()
    return canvas
