#!/usr/bin/env bash
# Pre-train a small MARGE from random initialisation on the prepared Debian-docs data, with
# periodic re-indexing, for at most HOURS hours of wall time (run.sh calls it; see README).
# LR and WARMUP set the peak learning rate and its warm-up updates (README: the 1e-4 ablation).
set -euo pipefail
DATA=$1 SAVE=$2
HOURS=${HOURS:-1.0} LR=${LR:-1e-3} WARMUP=${WARMUP:-300}
fairseq-train "$DATA" --user-dir fairseq_marge \
    --task marge --arch marge_tiny --criterion marge --label-smoothing 0.1 \
    --encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-layers 4 \
    --decoder-self-ffn-embed-dim 512 --decoder-ffn-embed-dim 512 \
    --reindex-interval "0-1000:250,1000-:1000" --max-tokens 2048 \
    --optimizer adam --adam-betas "(0.9, 0.98)" --lr "$LR" --lr-scheduler inverse_sqrt \
    --warmup-updates "$WARMUP" --clip-norm 1.0 --seed 1 \
    --max-update 100000 --stop-time-hours "$HOURS" \
    --save-interval-updates 500 --keep-interval-updates 1 --no-epoch-checkpoints \
    --validate-interval-updates 500 --cpu --num-workers 0 --save-dir "$SAVE" \
    --log-format simple --log-interval 50
