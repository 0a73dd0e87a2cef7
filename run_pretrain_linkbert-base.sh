#!/usr/bin/env bash
# Pretrain LinkBERT-base as in the paper (ACL §5.1, facts §4.2): start from BERT-base (cased; the
# LinkBERT vocabulary is BERT's 28,996 cased tokens), 40k steps of 2048 x 512 tokens, peak LR 3e-4
# with 5k warmup steps then linear decay, AdamW betas (0.9, 0.98), weight decay 0.01. The paper ran
# fp16 on 4 A100s for 4 days; bf16 here (same range as fp32, no loss scaling). Adam's epsilon is not
# given in the paper: transformers' default 1e-8.
#
# Data first (Wikipedia shown; the paper also mixes in BookCorpus, which has no links and so gets
# contiguous/random 50/50 pairs - concatenate its documents into the same corpus file):
#   python src/pretrain/convert_wikipedia.py --input raw_data/wiki --output data/pretrain/wiki.jsonl
#   python src/pretrain/build_pairs.py --corpus data/pretrain/wiki.jsonl --tokenizer "$MODEL_PATH" \
#       --output_dir data/pretrain/wiki_pairs --max_seq_length 512 --seed 42 --num_shards 256 \
#       --dupe_factor 5 --num_workers 16
# How many pairs: the schedule reads 40,000 steps x 2,048 sequences = 81,920,000 sequences, and
# build_pairs makes one pair per segment per pass, so the number of passes over the data is
# 81,920,000 / (segments per pass, the manifest's num_pairs / dupe_factor). With --dupe_factor equal
# to that number, rounded up, every pass draws a fresh relation and partner for each anchor instead
# of repeating pass 1's pairs. For English Wikipedia + BookCorpus, 3.3B words (BERT paper, §3.1): at
# an assumed ~1.3 WordPiece tokens per word that is ~4.3B tokens; segments of up to 254 tokens
# (--max_seq_length 512) make at least 4.3B / 254 = ~17M of them, so at most 81.92M / 17M = ~4.8
# passes: --dupe_factor 5. Check it against your build: dupe_factor = ceil(81,920,000 / num_pairs of
# a --dupe_factor 1 build).
#
# Usage (environment overrides, defaults shown in the code below):
#   bash run_pretrain_linkbert-base.sh                                  # 1 GPU (or CPU)
#   NPROC=4 bash run_pretrain_linkbert-base.sh                          # 4 GPUs, torchrun, one node
#   NNODES=2 NODE_RANK=0 NPROC=8 MASTER_ADDR=10.0.0.1 bash run_pretrain_linkbert-base.sh   # on node 0
#   NNODES=2 NODE_RANK=1 NPROC=8 MASTER_ADDR=10.0.0.1 bash run_pretrain_linkbert-base.sh   # on node 1
# PER_DEVICE_BATCH is the largest micro-batch to use (default 32, for 80 GB GPUs at 512 tokens); the
# micro-batch and gradient accumulation are derived so that the global batch stays 2048 whatever
# the world size.
# STREAMING=1 reads shards with datasets streaming; RESUME=DIR|last picks the checkpoint to resume
# (by default a run into an OUTPUT_DIR with checkpoints resumes the newest one). DRY_RUN=1 prints the
# command without running it. Extra arguments are passed on to run_pretrain.py.
set -euo pipefail
cd "$(dirname "$0")"

MODEL_PATH=${MODEL_PATH:-google-bert/bert-base-cased}
DATA_DIR=${DATA_DIR:-data/pretrain/wiki_pairs}
OUTPUT_DIR=${OUTPUT_DIR:-runs/pretrain/linkbert-base}
NPROC=${NPROC:-1}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
PER_DEVICE_BATCH=${PER_DEVICE_BATCH:-32}
GLOBAL_BATCH=2048
PYTHON=${PYTHON:-python}

# Every number is checked as digits before any arithmetic uses it: the shell never evaluates a value.
for name in NPROC NNODES PER_DEVICE_BATCH MASTER_PORT; do
    if ! [[ "${!name}" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: $name='${!name}': expected a positive integer" >&2
        exit 2
    fi
done
if ! [[ "$NODE_RANK" =~ ^(0|[1-9][0-9]*)$ ]]; then
    echo "error: NODE_RANK='$NODE_RANK': expected a non-negative integer" >&2
    exit 2
fi
# the same ranges as the fine-tuning launcher (src/linkbert/tools/launch.py); the lengths are checked
# first so that the arithmetic never sees a number beyond bash's 64 bits
if ((${#MASTER_PORT} > 5 || MASTER_PORT > 65535)); then
    echo "error: MASTER_PORT='$MASTER_PORT': expected a port number, 1-65535" >&2
    exit 2
fi
if ((${#NODE_RANK} > ${#NNODES} || NODE_RANK >= NNODES)); then
    echo "error: NODE_RANK=$NODE_RANK must be below NNODES=$NNODES" >&2
    exit 2
fi

WORLD_SIZE=$((NPROC * NNODES))
if ((GLOBAL_BATCH % WORLD_SIZE != 0)); then
    echo "error: the global batch $GLOBAL_BATCH cannot be split evenly over $WORLD_SIZE processes" >&2
    exit 2
fi
# Each process's share of the global batch, as the largest micro-batch not above PER_DEVICE_BATCH
# that divides it (memory per GPU never grows) times the accumulation steps.
SHARE=$((GLOBAL_BATCH / WORLD_SIZE))
PER_DEVICE=$((PER_DEVICE_BATCH < SHARE ? PER_DEVICE_BATCH : SHARE))
while ((SHARE % PER_DEVICE != 0)); do PER_DEVICE=$((PER_DEVICE - 1)); done
GRAD_ACCUM=$((SHARE / PER_DEVICE))
echo "global batch $GLOBAL_BATCH = per-device $PER_DEVICE x accumulation $GRAD_ACCUM x world size $WORLD_SIZE ($NNODES node(s) x $NPROC process(es))"

if ((NPROC > 1 || NNODES > 1)); then
    LAUNCH=(torchrun --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$NPROC" --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT")
else
    LAUNCH=("$PYTHON")
fi

ARGS=(
    src/pretrain/run_pretrain.py
    --model_name_or_path "$MODEL_PATH"
    --train_dir "$DATA_DIR"
    --output_dir "$OUTPUT_DIR"
    --max_steps 40000
    --per_device_train_batch_size "$PER_DEVICE"
    --gradient_accumulation_steps "$GRAD_ACCUM"
    --learning_rate 3e-4
    --warmup_steps 5000
    --weight_decay 0.01
    --adam_beta1 0.9
    --adam_beta2 0.98
    --max_grad_norm 1.0
    --bf16
    --seed 42
    --save_steps 1000
    --save_total_limit 3
    --logging_steps 50
)
if [[ "${STREAMING:-0}" == 1 ]]; then ARGS+=(--streaming); fi
if [[ -n "${RESUME:-}" ]]; then ARGS+=(--resume_from_checkpoint "$RESUME"); fi

if [[ "${DRY_RUN:-0}" == 1 ]]; then
    printf '%q ' "${LAUNCH[@]}" "${ARGS[@]}" "$@"
    echo
    exit 0
fi
exec "${LAUNCH[@]}" "${ARGS[@]}" "$@"
