"""How many runs train at once on one device: read by the local executor and the Ray actors alike."""

# CPU: one intra-op thread each, two fit 2 cores (bench/README.md). GPU: replays of CUDA-graph steps
# from several threads overlap on the card (5 CNN runs gave 2.4x one run's samples/s on an H200).
CPU_RUNS_AT_ONCE = 2
GPU_RUNS_AT_ONCE = 5
