#!/usr/bin/env bash
# The packed decoding batch against PEFT on models wider than the fixtures (reference.py) and
# prompts long enough for every attention and SwiGLU path: each row's greedy ids in one batch,
# rows joining in waves, against the row alone in PEFT, and its last-position logits alone.
#   PYTHON=/path/to/python bash scripts/packed-crosscheck/run.sh   (torch, transformers, peft)
#   SIXTEEN_BIT=1 ...: the same with BF16/F16 base checkpoints (reference.py)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PYTHON" scripts/packed-crosscheck/reference.py "$out" 2>/dev/null
node --no-warnings --import tsx --import ./src/node/register-hooks.mjs scripts/packed-crosscheck/check.ts "$out"
