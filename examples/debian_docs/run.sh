#!/usr/bin/env bash
# Does MARGE learn on real data?  Preprocess the corpus that ../shared/corpus builds, pre-train a
# small MARGE from random initialisation with periodic re-indexing for HOURS hours, and measure
# it against its own initialisation and the corpus's baselines (README.md has the results).
#
#   bash examples/debian_docs/run.sh CORPUS_DIR      # CORPUS_DIR has corpus/docs.jsonl and dev/
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."
CORPUS=$(realpath "${1:?usage: run.sh CORPUS_DIR (with corpus/docs.jsonl and dev/)}")
OUT=${OUT:-outputs/debian_docs}
HOURS=${HOURS:-1.0}
LANGS=${LANGS:-en,de,fr}
G_LIMIT=${G_LIMIT:-1000}  # dev paragraphs per pair for g at every G_EVERY-th epoch's checkpoint
G_EVERY=${G_EVERY:-2}
HERE=examples/debian_docs
ORACLE=examples/custom_planner/group_oracle  # a user-dir: the group_oracle planner, and the plugin
# USER_DIR=$ORACLE PLANNERS=0-:group_oracle: the ceiling run (README, "Round 4")
USER_DIR=${USER_DIR:-}
CKPTS=$OUT/checkpoints
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/6 preprocess ($LANGS): clean, language ID, sentencepiece, 256-token chunks, 200 shards by article group"
[ -f "$OUT/data-bin/train.meta.npy" ] || python -m preprocess all --input "$CORPUS/corpus/docs.jsonl" \
    --out "$OUT/data-bin" --langs "$LANGS" --vocab-size 8000 --num-shards 200 --max-tokens-per-doc 256 \
    --valid-fraction 0.02 --workers 2 --seed 1

echo "== 2/6 pre-train from random initialisation for at most $HOURS h (log: $OUT/train.log)"
[ -f "$CKPTS/checkpoint_last.pt" ] || HOURS=$HOURS bash $HERE/train.sh "$OUT/data-bin" "$CKPTS" \
    > "$OUT/train.log" 2>&1
CKPT=$CKPTS/checkpoint_last.pt
python $HERE/init_checkpoint.py "$CKPT" "$OUT/checkpoint_init.pt"

echo "== 3/6 cross-language retrieval on the dev set: g and every layer, trained and at initialisation"
for model in trained init; do
    path=$CKPT; [ $model = init ] && path=$OUT/checkpoint_init.pt
    python examples/retrieval_eval/evaluate.py --path "$path" --data "$OUT/data-bin" \
        --dev "$CORPUS/dev" --embed-layer all --cpu ${USER_DIR:+--user-dir "$USER_DIR"} > "$OUT/retrieval.$model.json"

    echo "== 4/6 ($model) held-out NLL: g's and oracle evidence, each against its targets with random evidence"
    # the two plans link different targets: each is compared with itself under random evidence
    for planner in retrieval group_oracle; do
        for evidence in retrieved shuffled; do
            name=$evidence; [ $planner = group_oracle ] && name=oracle_$evidence
            fairseq-validate "$OUT/data-bin" --user-dir "${USER_DIR:-$ORACLE}" --task marge --path "$path" \
                --valid-subset valid --max-tokens 2048 --cpu --num-workers 0 \
                --model-overrides "{'valid_evidence': '$evidence', 'valid_planner': '$planner'}" \
                > "$OUT/validate.$model.$name.log" 2>&1
        done
    done
done

echo "== 5/6 g's retrieval of the first $G_LIMIT paragraphs at init and after every $G_EVERY epochs"
# checkpointN.pt holds the g that built plan N+1; epoch0 is the initialisation
mkdir -p "$OUT/retrieval_g"
for path in "$OUT/checkpoint_init.pt" "$CKPTS"/checkpoint[0-9]*.pt; do
    epoch=${path##*/checkpoint}; epoch=${epoch%.pt}; epoch=${epoch/_init/0}
    (( epoch % G_EVERY == 0 )) || continue  # epochs 0, G_EVERY, 2 G_EVERY, ...
    [ -f "$OUT/retrieval_g/epoch$epoch.json" ] || python examples/retrieval_eval/evaluate.py --path "$path" \
        --data "$OUT/data-bin" --dev "$CORPUS/dev" --embed-layer g --levels sent --limit "$G_LIMIT" --cpu \
        ${USER_DIR:+--user-dir "$USER_DIR"} \
        > "$OUT/retrieval_g/epoch$epoch.json"
done

echo "== 6/6 zero-shot translation en<->de, en<->fr (first ${LIMIT:=300} paragraphs); plots"
# UNBLOCKED=1: also without n-gram blocking (fairseq 0.12's default behaviour on CPU, see README)
for block in 8 ${UNBLOCKED:+0}; do
    python examples/translate/translate_dev.py --path "$CKPT" --data "$OUT/data-bin" --dev "$CORPUS/dev" \
        --levels sent --limit "$LIMIT" --no-repeat-ngram-size $block --cpu ${USER_DIR:+--user-dir "$USER_DIR"} \
        --outputs "$OUT/translations.block$block" > "$OUT/translate.block$block.json"
done
python $HERE/plot_training.py --log "$OUT/train.log" --reindex "$CKPTS/reindex" \
    --meta "$OUT/data-bin/train.meta.npy" --out "$OUT/training.png"
python $HERE/summarise.py --dir "$OUT" --dev "$CORPUS/dev" | tee "$OUT/results.md"
echo "Done in $(( $(date +%s) - start )) s: $OUT/results.md, $OUT/training.png, $CKPTS/reindex/"
