"""Score a known-answer run: did retrieval and reconstruction learn, jointly?

For one or more checkpoints of a run on a corpus from ``make_corpus.py``, on its held-out
(valid) pairs:

- ``nll_retrieved`` / ``nll_shuffled``: bits per target token with the clusters the model
  retrieves itself, and with the same targets reading as many random documents of other
  groups; ``nll_gain`` is the difference, what the model gains from what it retrieves;
- ``p_at_1_g``: P@1 of g (cosine, both directions averaged): is the nearest document of the
  twin's language the twin?  ``p_at_1_embedding``: the same with mean-pooled token embeddings
  (input layer), the lexical reference that g should beat on the cipher twin;
- ``beta``.

With ``--save-dir``, also the per-re-index curve from the run's reports: the twin-link share
(cross-language links that reach the target's group) and the share of targets whose cluster
holds their twin, against updates and wall time; ``--plot`` draws both with the NLL gain.

    python examples/known_answer/evaluate.py --data DATA --save-dir CKPTS --checkpoints all \
        --out report.json --plot curve.png
"""

import argparse
import json
import logging
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from fairseq import checkpoint_utils
from omegaconf import open_dict

import fairseq_marge  # noqa: F401  (registers the task and model)
from fairseq_marge.data.batch_plan import BatchPlan, Cluster
from fairseq_marge.retrieval.document_encoder import collate_documents, encode_documents, token_batches

REINDEX_LINE = re.compile(r"^(\S+ \S+) \| .*re-index (\d+) after (\d+) updates")
START_LINE = re.compile(r"^(\S+ \S+) \| .*fairseq_cli.train \| task:")


def retrieved_plan(task, dataset):
    with open_dict(task.cfg):
        task.cfg.valid_evidence = "retrieved"
    return task.valid_plan(dataset)


def with_other_groups_evidence(plan: BatchPlan, groups: np.ndarray, seed: int = 1) -> BatchPlan:
    """The same targets, each cluster's evidence replaced by as many documents drawn from the
    whole split outside the targets' groups: held-out shards of a known-answer corpus hold a
    pair or two, so random same-shard evidence would be the twin again."""
    rng = np.random.default_rng(seed)
    clusters = []
    for cluster in plan.clusters:
        pool = np.flatnonzero(~np.isin(groups, groups[cluster.targets]))
        clusters.append(Cluster(np.sort(rng.choice(pool, len(cluster.evidence), replace=False)), cluster.targets))
    return BatchPlan(clusters, plan.generation)


@torch.no_grad()
def heldout_nll(model, dataset, plan: BatchPlan) -> float:
    """Bits per target token of ``plan``'s targets reading its clusters' evidence."""
    total, tokens = 0.0, 0
    for cluster in plan.clusters:
        sample = dataset.cluster_batch(cluster.evidence, cluster.targets)
        lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
        target = sample["target"]
        nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        keep = target.ne(dataset.dictionary.pad())
        total += float(nll[keep].sum())
        tokens += int(keep.sum())
    return total / tokens / np.log(2)


@torch.no_grad()
def mean_embeddings(encoder, dataset, docs: np.ndarray, max_tokens: int = 8000) -> np.ndarray:
    """L2-normalised mean of the input layer (token + position embeddings) over each document."""
    out = np.empty((len(docs), encoder.embed_tokens.embedding_dim), dtype=np.float32)
    for batch in token_batches(dataset, docs, max_tokens):
        src = collate_documents(dataset, docs[batch])
        states = encoder.embed(src)  # (L, N, C)
        keep = src.ne(encoder.padding_idx).t().unsqueeze(-1).float()
        out[batch] = F.normalize((states * keep).sum(0) / keep.sum(0), dim=-1).numpy()
    return out


def twin_precision_at_1(embeddings: np.ndarray, langs: np.ndarray, groups: np.ndarray) -> float:
    """P@1 of finding the twin (the other document of the group) among all documents of the
    other language, averaged over both directions."""
    scores = []
    for lang in np.unique(langs):
        queries, pool = np.flatnonzero(langs == lang), np.flatnonzero(langs != lang)
        best = pool[np.argmax(embeddings[queries] @ embeddings[pool].T, axis=1)]
        scores.append(np.mean(groups[best] == groups[queries]))
    return float(np.mean(scores))


def evaluate_checkpoint(path: Path, data: str) -> dict:
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(path)], arg_overrides={"data": data, "save_dir": ""}
    )
    model = models[0].eval()
    task.load_dataset("valid")
    dataset = task.dataset("valid")
    docs = np.arange(dataset.num_documents)
    langs = np.asarray(dataset.metadata["lang"])
    groups = np.asarray(dataset.metadata["group"])
    g = encode_documents(model.encoder, dataset, docs, max_tokens=8000)
    plan = retrieved_plan(task, dataset)
    row = {
        "checkpoint": path.name,
        "num_updates": int(torch.load(path, map_location="cpu", weights_only=True)
                           ["optimizer_history"][-1]["num_updates"]),
        "nll_retrieved": heldout_nll(model, dataset, plan),
        "nll_shuffled": heldout_nll(model, dataset, with_other_groups_evidence(plan, groups)),
        "p_at_1_g": twin_precision_at_1(g, langs, groups),
        "p_at_1_embedding": twin_precision_at_1(mean_embeddings(model.encoder, dataset, docs), langs, groups),
        "beta": float(model.encoder.relevance.beta),
    }
    row["nll_gain"] = row["nll_shuffled"] - row["nll_retrieved"]
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def reindex_curve(save_dir: Path, log: Path) -> list:
    """One row per re-index: twin-link share and twins in cluster, with its update and the
    seconds since training started (from the log's time stamps)."""
    stamps, start = {}, None
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            if start is None and START_LINE.match(line):
                start = datetime.fromisoformat(START_LINE.match(line).group(1))
            match = REINDEX_LINE.match(line)
            if match and start is not None:
                stamps[int(match.group(2))] = (datetime.fromisoformat(match.group(1)) - start).total_seconds()
    rows, update = [], 0
    for path in sorted((save_dir / "reindex").glob("links_gen*.json"), key=lambda p: int(p.stem[9:])):
        report = json.loads(path.read_text())
        update += report["updates_since_last_index"]
        rows.append({
            "generation": report["generation"], "update": update,
            "seconds": stamps.get(report["generation"]),
            "twin_link_share": report["cross_links_in_group"],
            "twins_in_cluster": report.get("targets_with_group_evidence"),
            "targets_used": report["targets_used"] / max(report["targets"], 1),
        })
    return rows


def plot(curve: list, checkpoints: list, path: str, title: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.6))
    canvas = FigureCanvasAgg(figure)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    minutes = [r["seconds"] / 60 if r["seconds"] is not None else np.nan for r in curve]
    left.plot(minutes, [r["twin_link_share"] for r in curve], "o-", label="twin-link share")
    left.plot(minutes, [r["twins_in_cluster"] for r in curve], "s--", label="targets with twin in cluster")
    left.set_ylim(0, 1.02)
    left.set_xlabel("training minutes")
    left.set_title("retrieval, per re-index")
    left.legend(loc="lower right")
    updates = [r["num_updates"] for r in checkpoints]
    right.plot(updates, [r["nll_gain"] for r in checkpoints], "o-", color="C2",
               label="NLL gain, retrieved vs shuffled evidence (bits/token)")
    right.plot(updates, [r["p_at_1_g"] for r in checkpoints], "s--", color="C3", label="P@1 of g, held-out twins")
    right.set_xlabel("updates")
    right.set_title("held-out pairs, per checkpoint")
    right.legend(loc="upper left", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    canvas.print_png(path)


def main():
    logging.getLogger().setLevel(logging.INFO)  # importing fairseq leaves the root logger at DEBUG
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the run's data directory")
    parser.add_argument("--save-dir", required=True, help="the run's --save-dir")
    parser.add_argument("--checkpoints", default="last",
                        help="'last', 'all' (every checkpoint*.pt but checkpoint_best) or file names")
    parser.add_argument("--log", help="the run's training log (default: SAVE_DIR/train.log)")
    parser.add_argument("--out", help="write the report as JSON here")
    parser.add_argument("--plot", help="write the curves as PNG here")
    parser.add_argument("--title", default="known-answer run")
    args = parser.parse_args()

    torch.manual_seed(1)
    save_dir = Path(args.save_dir)
    if args.checkpoints == "last":
        paths = [save_dir / "checkpoint_last.pt"]
    elif args.checkpoints == "all":  # epoch (re-index) and interval checkpoints, and the last
        paths = [p for p in save_dir.glob("checkpoint*.pt") if p.name != "checkpoint_best.pt"]
    else:
        paths = [save_dir / name for name in args.checkpoints.split(",")]
    checkpoints = sorted((evaluate_checkpoint(p, args.data) for p in paths), key=lambda r: r["num_updates"])
    report = {"reindex": reindex_curve(save_dir, Path(args.log or save_dir / "train.log")),
              "checkpoints": checkpoints}
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    if args.plot:
        plot(report["reindex"], checkpoints, args.plot, args.title)


if __name__ == "__main__":
    main()
