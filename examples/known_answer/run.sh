#!/usr/bin/env bash
# Does retrieval take off?  Build a known-answer corpus (every document has a twin, README.md),
# pre-train MARGE on it from random initialisation with the recipe below for MINUTES minutes,
# and score every kept checkpoint: twin-link share per re-index, held-out NLL with retrieved vs
# shuffled evidence, P@1 of g on held-out twins.
#
#   bash examples/known_answer/run.sh noisy|cipher [extra fairseq-train args, e.g. an ablation]
#
# Environment: INPUT (JSONL, default: the Debian-docs corpus that ../shared/corpus builds),
# OUT (default outputs/known_answer/TWIN), MINUTES (default 20 for noisy, 60 for cipher),
# WORDS (words per document, 12), MAX_PIECES (pairs, 20000; 0: all), LENGTHS (the document-length
# curriculum, --doc-length-schedule; default for pieces longer than 12 words: cut to 64 tokens,
# about 12 words, for 3,000 updates, then doubled every 1,000 updates up to whole documents).
set -euo pipefail
cd "$(dirname "$0")/../.."
TWIN=${1:?usage: run.sh noisy|cipher [fairseq-train args]}
shift
INPUT=${INPUT:-data/debian-docs/corpus/docs.jsonl}
OUT=${OUT:-outputs/known_answer/$TWIN}
MINUTES=${MINUTES:-$([ "$TWIN" = cipher ] && echo 60 || echo 20)}
HERE=examples/known_answer
mkdir -p "$OUT"

echo "== 1/3 corpus: $TWIN twins of ${WORDS:=12}-word pieces of $INPUT"
if [ ! -f "$OUT/data-bin/train.meta.npy" ]; then
    python $HERE/make_corpus.py --twin "$TWIN" --input "$INPUT" --output "$OUT/docs.jsonl" \
        --words "$WORDS" --max-pieces "${MAX_PIECES:-20000}"
    # a character-level vocabulary, and one shard per ~11 pairs: about half of the targets find
    # their twin in their cluster at initialisation (README.md, "Recipe")
    pairs=$(( $(wc -l < "$OUT/docs.jsonl") / 2 ))
    python -m preprocess all --input "$OUT/docs.jsonl" --out "$OUT/data-bin" --vocab-size 100 \
        --max-tokens-per-doc $(( WORDS > 12 ? 512 : 128 )) --num-shards $(( pairs / 11 > 1 ? pairs / 11 : 1 )) \
        --valid-fraction 0.02 --seed 1
fi

echo "== 2/3 pre-train for $MINUTES minutes (log: $OUT/checkpoints/train.log)"
# each re-index encodes 400 sampled shards (~8,800 documents), not the whole corpus
if [ "$WORDS" -gt 12 ]; then
    LENGTHS=${LENGTHS:-0-3000:64,3000-4000:128,4000-5000:256,5000-:512}
fi
bash $HERE/train.sh "$OUT/data-bin" "$OUT/checkpoints" "$MINUTES" --reindex-shards 400 \
    ${LENGTHS:+--doc-length-schedule "$LENGTHS"} "$@"

echo "== 3/3 score the checkpoints on held-out twins"
python $HERE/evaluate.py --data "$OUT/data-bin" --save-dir "$OUT/checkpoints" --checkpoints all \
    --out "$OUT/report.json" --plot "$OUT/curve.png" --title "$TWIN twin $*" > /dev/null
python $HERE/summarise.py "$OUT/report.json"
echo "report: $OUT/report.json, curve: $OUT/curve.png"
