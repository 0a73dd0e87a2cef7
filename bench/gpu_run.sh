#!/usr/bin/env bash
# The GPU run, for a person with one (or more) NVIDIA GPUs: one command, under 8 minutes on one
# H100/H200, after `make setup` (or with PYTHON pointing at an environment with a CUDA torch).
#
#   bash bench/gpu_run.sh                 # writes bench/results/<gpu>-*.json and README's GPU block
#
# 1. compile check: a training step compiled with inductor under bf16 autocast over an epoch of
#    ChemProt's real lengths (graph breaks, graphs, recompilations, input shapes, host syncs of an
#    eager step), padded vs padding-free vs bucketed;
# 2. every task head for a few steps with padding-free, compile and bucketing, in bf16 and fp16,
#    against the padded run, and prediction under CUDA graphs (reduce-overhead) against eager;
# 3. FSDP (SHARDED=1's --sharded_ddp zero_dp_3) with --fp16 on all GPUs present, a few steps;
# 4. throughput: original settings vs defaults vs defaults + torch.compile on the SQuAD recipe
#    (BERT-base, run_qa) and two BLURB recipe shapes (ChemProt, PubMedQA; BERT-base), lengths drawn
#    from the real training splits' histograms;
# 5. the tables of part 4 into README.md (between the gpu-results markers) and
#    bench/results/<gpu>-summary.md.
# Each part has a time limit and a failing part does not stop the others; the exit status is 1 if
# any part failed. Commit bench/results/<gpu>-* and README.md afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[[ -x "$PYTHON" ]] || PYTHON=python
RESULTS=bench/results
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "error: no CUDA GPU visible to $PYTHON (torch.cuda.is_available() is False)" >&2
    exit 2
fi
# e.g. "NVIDIA H200" -> h200: the prefix of every result file
GPU=$("$PYTHON" -c "import re, torch; name = torch.cuda.get_device_name(0); print(re.sub(r'[^a-z0-9]+', '-', name.lower().replace('nvidia', '')).strip('-'))")
NGPU=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")
mkdir -p "$RESULTS"
LOG="$RESULTS/$GPU-gpu-run.log"
: > "$LOG"
failed=()

part() {  # part NAME SECONDS COMMAND...: run with a time limit, log, remember failures
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - start))s" | tee -a "$LOG"
    ((status == 0)) || failed+=("$name")
}

echo "GPU run on $NGPU x $GPU, results in $RESULTS/$GPU-*" | tee -a "$LOG"

part compile-check 100 "$PYTHON" bench/compile_check.py --device cuda --dtype bf16 --job chemprot_hf \
    --examples 192 --output "$RESULTS/$GPU-compile-check.json"

part heads 170 "$PYTHON" bench/gpu_heads_check.py --steps 30 --jobs 12 --output "$RESULTS/$GPU-heads.json"

TINY=$(mktemp -d)
trap 'rm -rf "$TINY"' EXIT
"$PYTHON" scripts/make_tiny_model.py --text_files demo/sample_data/*/*/train.json --output_dir "$TINY/bert" >/dev/null
DATA=demo/sample_data/seqcls/chemprot_demo_hf
part fsdp-fp16 90 "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$NGPU" src/seqcls/run_seqcls.py \
    --model_name_or_path "$TINY/bert" --train_file "$DATA/train.json" --validation_file "$DATA/dev.json" \
    --do_train --do_eval --metric_name PRF1 --max_seq_length 128 --per_device_train_batch_size 8 --max_steps 10 \
    --sharded_ddp zero_dp_3 --fp16 --output_dir "$TINY/fsdp" --save_strategy no --report_to none --log_level warning

throughput() {  # throughput NAME SHAPE JOB STEPS
    part "throughput-$1" 150 "$PYTHON" bench/finetune_throughput.py --shape "$2" --job "$3" --steps "$4" \
        --settings original,defaults,compile --learnable_steps 0 --output "$RESULTS/$GPU-$1.json"
}
throughput squad-base squad-base squad_hf 60
throughput chemprot-base base-cls chemprot_hf 60
throughput pubmedqa-base base-cls pubmedqa_hf 40

tables=()
for name in squad-base chemprot-base pubmedqa-base; do
    [[ -f "$RESULTS/$GPU-$name.json" ]] && tables+=("$RESULTS/$GPU-$name.json")
done
if ((${#tables[@]})); then
    "$PYTHON" bench/summarize.py "${tables[@]}" > "$RESULTS/$GPU-summary.md" &&
        "$PYTHON" bench/summarize.py --readme README.md "${tables[@]}" || failed+=("summary")
fi

if ((${#failed[@]})); then
    echo "failed parts: ${failed[*]} (details in $LOG)" | tee -a "$LOG"
    exit 1
fi
echo "all parts passed in ${SECONDS}s; commit $RESULTS/$GPU-* and README.md" | tee -a "$LOG"
