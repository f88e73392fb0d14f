#!/usr/bin/env bash
# GPU check of the CLIP task (issue 13): 16-shot CIFAR-10 with the CIFAR-10N "worst" human labels,
# zero-shot CLIP vs CoOp + CE vs CoOp + GCE vs PTNL's unsupervised mode, one table
# (benchmarks/results/clip_cifar10n.md). Under 5 minutes on one GPU with ViT-B/32.
#
#   bash benchmarks/clip_gpu_check.sh            # CLIP_MODEL=openai/clip-vit-base-patch32
#   CLIP_MODEL=/models/clip-vit-b32 bash benchmarks/clip_gpu_check.sh
#
# Needs: the real weights (hub access, the Hugging Face cache, or a local folder), a CUDA GPU,
# and the data root ($LABELNOISE_DATA, default ../shared/data). Without the weights it says so
# and exits 3; without a GPU it exits 4 (CLIP_ALLOW_CPU=1 runs on the CPU anyway, slowly).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
MODEL=${CLIP_MODEL:-openai/clip-vit-base-patch32}
DATA=${LABELNOISE_DATA:-../shared/data}

# 1. The weights: from a local folder or the cache first, else the hub must be reachable.
if HF_HUB_OFFLINE=1 "$PY" -c "import sys; from labelnoise.tasks.clip import load_clip; load_clip(sys.argv[1])" "$MODEL" 2>/dev/null; then
  export HF_HUB_OFFLINE=1
elif [ -e "$MODEL" ] || ! "$PY" -c "import socket; socket.create_connection(('huggingface.co', 443), timeout=5)" 2>/dev/null; then
  echo "CANNOT RUN: the CLIP weights '$MODEL' are not available here: not a loadable local" >&2
  echo "checkpoint, not in the Hugging Face cache, and the model hub cannot be reached, so they" >&2
  echo "cannot be downloaded. Nothing was measured. Set CLIP_MODEL to a local checkpoint folder" >&2
  echo "or run where the hub is reachable." >&2
  exit 3
fi

# 2. The GPU.
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  if [ "${CLIP_ALLOW_CPU:-0}" != 1 ]; then
    echo "CANNOT RUN: no CUDA GPU (set CLIP_ALLOW_CPU=1 to run on the CPU anyway)." >&2
    exit 4
  fi
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true

# 3. The table.
timeout 300 "$PY" benchmarks/clip_cifar10n.py --data-dir "$DATA" --model "$MODEL" \
  --json benchmarks/results/clip_cifar10n.json "$@"
