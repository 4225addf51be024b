#!/usr/bin/env bash
# One prepared run for a lent GPU machine (under 10 minutes: one device command). Here, first:
# benchmarks/gpu_wheels.sh (fills .whl/ with what the machine's image lacks, bitsandbytes included). Then call the
# device tool's run with
#   command: bash benchmarks/gpu_session.sh     carry: [".whl"]     timeout_s: 590
# In order, each part with its own timeout so a slow one cannot starve the rest:
#   1. the CUDA paths (tests/gpu: every family on CUDA, FSDP + bf16 under torchrun/nccl, DeepSpeed if installed);
#   2. sharded/quantised training (benchmarks/sharded_gpu.py): FSDP + bf16 on a published-size model, QLoRA on
#      GenomeOcean (when method qlora and bitsandbytes are there), the memory planner's estimate (when the plan
#      command is there) next to each measured peak;
#   3. the paper's Table 2 workload (ratios to the paper, MFU); it saves its JSON after every row, so a run cut
#      short by its timeout still returns the rows it finished.
# Everything lands in $OUT (gpu.txt, gpu_tests.log, sharded_gpu.json/.log, table2.log, table2_gpu.json). Commit
# sharded_gpu.json and table2_gpu.json to benchmarks/results/.
# Dry run of part 2 on a CPU: python benchmarks/sharded_gpu.py --dry-run --output /tmp/sharded_cpu.json
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# torchrun from the pip --target install (if any) runs with this python
export PATH=/tmp/site/bin:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft, pydantic; print('torch', torch.__version__, 'transformers',
  transformers.__version__, 'peft', peft.__version__, 'pydantic', pydantic.__version__)" | tee -a "$OUT/gpu.txt"
timeout "${TESTS_TIMEOUT:-110}" python3 -m pytest -p no:cacheprovider tests/gpu -rs 2>&1 | tee "$OUT/gpu_tests.log" \
  | tail -n 25
timeout "${SHARDED_TIMEOUT:-250}" python3 benchmarks/sharded_gpu.py --output "$OUT/sharded_gpu.json" \
  ${SHARDED_ARGS:-} 2>&1 | tee "$OUT/sharded_gpu.log"
echo "sharded exit ${PIPESTATUS[0]}"
rm -rf "$OUT/sharded_gpu_work"/*_run  # checkpoints of random-weight models: gigabytes nobody needs back
timeout "${TABLE2_TIMEOUT:-200}" python3 benchmarks/table2.py --steps "${STEPS:-8}" --max-seconds "${MAX_SECONDS:-3}" \
  --output "$OUT/table2_gpu.json" ${TABLE2_ARGS:-} 2>&1 | tee "$OUT/table2.log"
echo "table2 exit ${PIPESTATUS[0]}"
