#!/usr/bin/env bash
# Pre-train a small MARGE from random initialisation on the prepared Debian-docs data, with
# periodic re-indexing, for at most HOURS hours of wall time (run.sh calls it; see README).
# The recipe of examples/known_answer (beta from 5, no dropout or label smoothing, one
# cross-language link per target, small shards), with plans built lexically for the first
# HANDOVER updates and by the model's own g after (PLANNERS overrides the whole schedule), g's own
# links reported at every re-index all along (--report-g-links); LENGTHS, if set, is a
# document-length curriculum (--doc-length-schedule); USER_DIR, a user-dir with planners of its own.
# One checkpoint per epoch (= per re-index interval) is kept: run.sh evaluates g at each;
# validation (random evidence, slow on CPU) every 4 epochs.
set -euo pipefail
DATA=$1 SAVE=$2
shift 2
HOURS=${HOURS:-1.0} LR=${LR:-1e-3} WARMUP=${WARMUP:-300} HANDOVER=${HANDOVER:-2500}
PLANNERS=${PLANNERS:-"0-$HANDOVER:lexical,$HANDOVER-:retrieval"}
fairseq-train "$DATA" --user-dir "${USER_DIR:-fairseq_marge}" \
    --task marge --arch marge_tiny --criterion marge --label-smoothing 0 --dropout 0 \
    --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-layers 4 \
    --decoder-self-ffn-embed-dim 512 --decoder-ffn-embed-dim 512 --beta-init 5 \
    --planner-schedule "$PLANNERS" --report-g-links ${LENGTHS:+--doc-length-schedule "$LENGTHS"} \
    --mono-links 0 --cross-links 1 \
    --reindex-interval 500 --reindex-shards 50 --max-tokens 2048 \
    --optimizer adam --adam-betas "(0.9, 0.98)" --lr "$LR" --lr-scheduler inverse_sqrt \
    --warmup-updates "$WARMUP" --clip-norm 1.0 --seed 1 \
    --max-update 100000 --stop-time-hours "$HOURS" \
    --validate-interval 4 --cpu --num-workers 0 --save-dir "$SAVE" \
    --log-format simple --log-interval 50 "$@"
