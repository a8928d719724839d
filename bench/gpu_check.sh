#!/usr/bin/env bash
# The GPU path, checked in one call of the device tool (an NVIDIA GPU lent to the session):
#
#   device run: bash bench/gpu_check.sh [warm] [core] [app] [graphs]     (default: all four)
#
# carrying .whl: what the GPU image lacks, as Python 3.12 wheels (umap-learn, pynndescent,
# nbformat and its needs, plotly, streamlit and its needs, the two components, segno; the
# device tool's README says how to download them).
#
# warm:   every page default trained on the GPU (python -m apcore warm, UMAP included);
# core:   apcore's tests with a GPU present ("auto" picks CUDA: the worker, the CLI; the
#         store's round trip on every device);
# app:    the pages in AppTest, their models trained and shown on the GPU;
# graphs: bench/gpu_train.py, the eager loop against replayed CUDA graphs.
# Logs and result tables go to $OUT (default: /tmp/gpu_check).
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
{
  nvidia-smi -L
  lscpu | grep "Model name"
  python3 -c "import sys, torch; print('Python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/machine.txt"

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "== $name: exit $? in $((SECONDS - start)) s" | tee -a "$OUT/steps.txt"
  tail -n 25 "$OUT/$name.log"
}

WANTED=" ${*:-warm core app graphs} "
want() { [[ "$WANTED" == *" $1 "* ]]; }
if want warm; then
  step warm 150 env APCORE_CHECKPOINT_DIR=/tmp/gpu_warm python3 -m apcore warm
fi
if want core; then
  step core 150 python3 -m pytest -q -p no:cacheprovider -n 8 tests --ignore=tests/app --ignore=tests/e2e
fi
if want app; then
  step app 220 python3 -m pytest -q -p no:cacheprovider -n 8 tests/app
fi
if want graphs; then
  step graphs 120 python3 bench/gpu_train.py
  cp bench/results/gpu_train.md "$OUT/" 2>/dev/null
fi
exit 0
