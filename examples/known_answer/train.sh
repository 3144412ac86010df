#!/usr/bin/env bash
# The known-answer recipe (README.md, "Recipe"): marge_tiny from random initialisation, re-indexed
# every 100 updates, one cross-language link per target, beta starting at 5, no dropout or label
# smoothing.
#
#   bash examples/known_answer/train.sh DATA SAVE_DIR MINUTES [more fairseq-train args]
#
# MINUTES bounds the wall time (fairseq's --stop-time-hours); MAX_UPDATE, if set, the updates.
# Logs to SAVE_DIR/train.log; one checkpoint per 5 re-indexes, kept, for evaluate.py.
set -euo pipefail
DATA=$1 SAVE=$2 MINUTES=$3
shift 3
mkdir -p "$SAVE"
fairseq-train "$DATA" --user-dir fairseq_marge --task marge --arch marge_tiny --criterion marge \
    --dropout 0 --label-smoothing 0 --beta-init 5 \
    --optimizer adam --adam-betas "(0.9, 0.98)" --lr 2e-3 --lr-scheduler inverse_sqrt \
    --warmup-updates 100 --clip-norm 1.0 \
    --max-tokens 1024 --reindex-interval 100 --mono-links 0 --cross-links 1 \
    --stop-time-hours "$(python -c "print($MINUTES / 60)")" --max-update "${MAX_UPDATE:-0}" \
    --seed 1 --cpu --num-workers 0 --save-dir "$SAVE" --save-interval 5 --disable-validation \
    --log-format simple --log-interval 50 "$@" > "$SAVE/train.log" 2>&1
