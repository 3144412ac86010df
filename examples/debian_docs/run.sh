#!/usr/bin/env bash
# Does MARGE learn on real data?  Preprocess the corpus that ../shared/corpus builds, pre-train a
# small MARGE from random initialisation with periodic re-indexing for HOURS hours, and measure
# it against its own initialisation and the corpus's baselines (README.md has the results).
#
#   bash examples/debian_docs/run.sh CORPUS_DIR      # CORPUS_DIR has corpus/docs.jsonl and dev/
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=$(realpath "${1:?usage: run.sh CORPUS_DIR (with corpus/docs.jsonl and dev/)}")
OUT=${OUT:-outputs/debian_docs}
HOURS=${HOURS:-1.0}
LANGS=${LANGS:-en,de,fr}
HERE=examples/debian_docs
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/5 preprocess ($LANGS): clean, language ID, sentencepiece, chunk, shard by article group, binarize"
[ -f "$OUT/data-bin/train.meta.npy" ] || python -m preprocess all --input "$CORPUS/corpus/docs.jsonl" \
    --out "$OUT/data-bin" --langs "$LANGS" --vocab-size 8000 --num-shards 20 --valid-fraction 0.02 \
    --workers 2 --seed 1

echo "== 2/5 pre-train from random initialisation for at most $HOURS h (log: $OUT/train.log)"
[ -f "$OUT/checkpoints/checkpoint_last.pt" ] || HOURS=$HOURS bash $HERE/train.sh "$OUT/data-bin" \
    "$OUT/checkpoints" > "$OUT/train.log" 2>&1
CKPT=$OUT/checkpoints/checkpoint_last.pt
python $HERE/init_checkpoint.py "$CKPT" "$OUT/checkpoint_init.pt"

echo "== 3/5 cross-language retrieval on the dev set, trained and at initialisation"
for model in trained init; do
    path=$CKPT; [ $model = init ] && path=$OUT/checkpoint_init.pt
    python examples/retrieval_eval/evaluate.py --path "$path" --data "$OUT/data-bin" \
        --dev "$CORPUS/dev" --cpu > "$OUT/retrieval.$model.json"

    echo "== 4/5 ($model) held-out NLL with retrieved evidence vs random same-shard evidence"
    for evidence in retrieved shuffled; do
        fairseq-validate "$OUT/data-bin" --user-dir fairseq_marge --task marge --path "$path" \
            --valid-subset valid --max-tokens 2048 --cpu --num-workers 0 \
            --model-overrides "{'valid_evidence': '$evidence'}" > "$OUT/validate.$model.$evidence.log" 2>&1
    done
done

echo "== 5/5 zero-shot translation en<->de, en<->fr (first ${LIMIT:=300} paragraphs), plots"
python examples/translate/translate_dev.py --path "$CKPT" --data "$OUT/data-bin" --dev "$CORPUS/dev" \
    --levels sent --limit "$LIMIT" --cpu --outputs "$OUT/translations" > "$OUT/translate.trained.json"
python $HERE/plot_training.py --log "$OUT/train.log" --reindex "$OUT/checkpoints/reindex" \
    --meta "$OUT/data-bin/train.meta.npy" \
    --out "$OUT/training.png"
python $HERE/summarise.py --dir "$OUT" --dev "$CORPUS/dev" | tee "$OUT/results.md"
echo "Done in $(( $(date +%s) - start )) s: $OUT/results.md, $OUT/training.png, $OUT/checkpoints/reindex/"
