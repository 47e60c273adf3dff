#!/usr/bin/env bash
# Trains a soft prompt on each tiny fixture model with the CLI, exports the adapter, loads it
# with real transformers + PEFT (PeftModel.from_pretrained) and compares logits, loss and
# greedy ids with the engine's. Needs a Python with torch, transformers and peft:
#   PYTHON=/path/to/python scripts/peft-crosscheck/run.sh
# MODELS="test/fixtures/families/gemma3_text ..." picks other model folders; FORWARD=forward-left
# takes the left-padded batch of the family fixtures.
# Not part of `npm test` (CI has no PyTorch); the fixtures already pin the same numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
out=$(mktemp -d)
FORWARD=${FORWARD:-forward}
for d in ${MODELS:-test/fixtures/tiny-gpt2 test/fixtures/tiny-bloom test/fixtures/tiny-llama test/fixtures/tiny-qwen2}; do
  m=$(basename "$d")
  npm run -s cli -- train --model "$d" --batches "$d/cases/train/case.json" --adapter "$d/cases/train/adapter" --out "$out/$m-adapter" >/dev/null
  npm run -s cli -- forward --model "$d" --adapter "$out/$m-adapter" --input "$d/cases/$FORWARD/case.json" --out "$out/$m.safetensors" >"$out/$m.safetensors.json"
  prompt=$($PYTHON -c "import json,sys; print(json.load(open(sys.argv[1]))['greedy']['prompt_text'])" "$d/cases/greedy/case.json")
  npm run -s cli -- generate --model "$d" --adapter "$out/$m-adapter" --prompt "$prompt" --max-new-tokens 12 --greedy >"$out/$m.gen.json"
  $PYTHON -c "
import json, sys
g = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))['greedy']
json.dump({'prompt_ids': c['prompt_ids'], 'engine_ids': g['ids']}, open(sys.argv[3], 'w'))" "$out/$m.gen.json" "$d/cases/greedy/case.json" "$out/$m.greedy.json"
  $PYTHON scripts/peft-crosscheck/compare.py "$d" "$out/$m-adapter" "$d/cases/$FORWARD/case.json" "$out/$m.safetensors" "$out/$m.greedy.json" 2>/dev/null
done
