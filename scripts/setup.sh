#!/usr/bin/env bash
# One-time set-up: a virtual environment with torch pinned before anything else, so pip can
# never replace it with a multi-GB CUDA build on a machine without a GPU.
set -euo pipefail
VENV=${1:-.venv}
TORCH_SPEC=${LINGOTUNE_TORCH:-torch==2.13.0}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
if ! "$PY" -c "import torch" 2>/dev/null; then
  # GPU users: install your own torch into $VENV first; this branch is then skipped.
  # Elsewhere set LINGOTUNE_TORCH_INDEX=https://download.pytorch.org/whl/cpu to get a CPU build.
  if [ -n "${LINGOTUNE_TORCH_INDEX:-}" ]; then
    "$PY" -m pip install -q "$TORCH_SPEC" --index-url "$LINGOTUNE_TORCH_INDEX"
  else
    "$PY" -m pip install -q "$TORCH_SPEC"
  fi
fi
TORCH_VERSION=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
CONSTRAINTS="$VENV/torch-constraint.txt"
echo "torch==$TORCH_VERSION" > "$CONSTRAINTS"
"$PY" -m pip install -q -c "$CONSTRAINTS" -e ".[dev]"
touch "$VENV/.installed"
echo "lingotune installed in $VENV (torch $TORCH_VERSION)"
