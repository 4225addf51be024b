#!/usr/bin/env bash
# One prepared run for a lent GPU machine (about 8 minutes). Here, first: benchmarks/gpu_wheels.sh (fills .whl/
# with what the machine's image lacks). Then call the device tool's run with
#   command: bash benchmarks/gpu_session.sh     carry: [".whl"]     timeout_s: 560
# It checks the CUDA paths (tests/gpu), then measures Table 2 at the paper's sizes; everything it writes lands in
# $OUT (gpu.txt, gpu_tests.log, table2.log, table2_gpu.json). Commit table2_gpu.json to benchmarks/results/.
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
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft, pydantic; print('torch', torch.__version__, 'transformers',
  transformers.__version__, 'peft', peft.__version__, 'pydantic', pydantic.__version__)" | tee -a "$OUT/gpu.txt"
timeout "${TESTS_TIMEOUT:-120}" python3 -m pytest -p no:cacheprovider tests/gpu -rs 2>&1 | tee "$OUT/gpu_tests.log" \
  | tail -n 25
# table2 saves its JSON after every row, so a run cut short by the timeout still returns the rows it finished
timeout "${TABLE2_TIMEOUT:-390}" python3 benchmarks/table2.py --steps "${STEPS:-8}" --max-seconds "${MAX_SECONDS:-3}" \
  --output "$OUT/table2_gpu.json" ${TABLE2_ARGS:-} 2>&1 | tee "$OUT/table2.log"
echo "table2 exit ${PIPESTATUS[0]}"
