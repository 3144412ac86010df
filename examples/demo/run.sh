#!/usr/bin/env bash
# The main job on the bundled sample corpus: prepare, pre-train a tiny MARGE with periodic
# re-indexing, translate zero-shot, evaluate retrieval, then watch retrieval being learned on a
# known-answer corpus made from the sample, and print where everything is.  `make demo` runs it in .venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/demo}
SAMPLE=examples/sample_corpus
UPDATES=${UPDATES:-800}
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/5 prepare: clean, language ID, sentencepiece, chunk, shard, binarize"
python -m preprocess all --input "$SAMPLE/docs.jsonl" --out "$OUT/data-bin" \
    --vocab-size 4000 --num-shards 8 --valid-fraction 0.05 --workers 2
for tgt in de fr; do
    python -m preprocess parallel --input "$SAMPLE/dev/en-$tgt.sent.tsv" \
        --data-bin "$OUT/data-bin" --src en --tgt "$tgt" --split test
done

echo "== 2/5 pre-train marge_tiny for $UPDATES updates, re-indexing every 50, then 200 updates"
fairseq-train "$OUT/data-bin" --user-dir fairseq_marge \
    --task marge --arch marge_tiny --criterion marge --label-smoothing 0.1 \
    --reindex-interval "0-200:50,200-:200" --max-tokens 2048 \
    --optimizer adam --adam-betas "(0.9, 0.98)" --lr 1e-3 --lr-scheduler inverse_sqrt \
    --warmup-updates 50 --clip-norm 1.0 --max-update "$UPDATES" --seed 1 \
    --cpu --num-workers 0 --save-dir "$OUT/checkpoints" --no-epoch-checkpoints \
    --log-format simple --log-interval 25 2>&1 | tee "$OUT/train.log" | grep -E "\| (train|valid) \||re-index|Stopping"

echo "== 3/5 zero-shot translation en->de and en->fr (beam 6, no-repeat-ngram 8)"
for tgt in de fr; do
    fairseq-generate "$OUT/data-bin" --user-dir fairseq_marge --task marge \
        --source-lang en --target-lang "$tgt" --gen-subset test \
        --path "$OUT/checkpoints/checkpoint_last.pt" --beam 6 --no-repeat-ngram-size 8 \
        --max-len-a 1.2 --max-len-b 10 --post-process sentencepiece --scoring sacrebleu \
        --cpu --max-tokens 4096 > "$OUT/generate.en-$tgt.txt" 2> "$OUT/generate.en-$tgt.log"
    echo "en->$tgt: $(tail -n 1 "$OUT/generate.en-$tgt.txt")"
done
python examples/translate/translate_dev.py --path "$OUT/checkpoints/checkpoint_last.pt" \
    --data "$OUT/data-bin" --dev "$SAMPLE/dev" --levels doc --cpu \
    --outputs "$OUT/translations" > "$OUT/translate_docs.json"
echo "document-level (512-token chunks, sacreBLEU): $OUT/translate_docs.json"

echo "== 4/5 cross-lingual retrieval (mean-pooled encoder states, faiss kNN)"
python examples/retrieval_eval/evaluate.py --path "$OUT/checkpoints/checkpoint_last.pt" \
    --data "$OUT/data-bin" --dev "$SAMPLE/dev" --cpu > "$OUT/retrieval.json"
cat "$OUT/retrieval.json"

echo "== 5/5 does retrieval learn?  Every English document of the sample gets a cipher twin that"
echo "   shares no word with it; pre-train from scratch and watch g find the twins (examples/known_answer)"
KA=$OUT/known_answer
python examples/known_answer/make_corpus.py --twin cipher --words 12 \
    --input "$SAMPLE/docs.jsonl" --output "$KA/docs.jsonl" > /dev/null
python -m preprocess all --input "$KA/docs.jsonl" --out "$KA/data-bin" --vocab-size 100 \
    --num-shards 400 --valid-fraction 0.05 --max-tokens-per-doc 128 2> "$KA/preprocess.log"
MAX_UPDATE=${KA_UPDATES:-1200} bash examples/known_answer/train.sh "$KA/data-bin" "$KA/checkpoints" 30
python examples/known_answer/show.py --data "$KA/data-bin" --save-dir "$KA/checkpoints" \
    --plot "$KA/retrieval.png" 2> "$KA/show.log"

cat <<SUMMARY

Done in $(( $(date +%s) - start )) s.
  data:         $OUT/data-bin (report: $OUT/data-bin/report.json)
  training log: $OUT/train.log
  checkpoint:   $OUT/checkpoints/checkpoint_last.pt
  translations: $OUT/generate.en-de.txt, $OUT/generate.en-fr.txt, $OUT/translations/
  link matrices of each re-index: $OUT/checkpoints/reindex/
  retrieval:    $OUT/retrieval.json
  learning:     $KA/retrieval.png (twin-link share per re-index), $KA/checkpoints/train.log
SUMMARY
