#!/usr/bin/env bash
# serve_peft.py against PEFT and the engine: for each tiny fixture family, three adapters (the
# fixture's PROMPT_TUNING adapter, a P_TUNING adapter saved by PEFT, a RANDOM one from `cli init`)
# and rows for each adapter and the base model. The generated serve_peft.py runs them as one
# mixed batch (--batch); PEFT runs each row alone. Both id lists, the adapters and the script's
# hash go to test/fixtures/serve/, which test/serve-script.test.ts checks the engine against.
#   PYTHON=/path/to/python bash scripts/serve-crosscheck/run.sh   (torch, transformers, peft)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python}
OUT=test/fixtures/serve
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
echo '{}' > "$WORK/all.json"
for model in tiny-gpt2 tiny-bloom tiny-llama tiny-qwen2; do
  dir=test/fixtures/$model
  ad="$WORK/$model"
  mkdir -p "$ad"
  cp -r "$dir/cases/forward/adapter" "$ad/trained"
  "$PYTHON" scripts/serve-crosscheck/peft_reference.py make-ptuning "$dir" "$ad/ptuning" 5 >/dev/null 2>&1
  npm run -s cli -- init --model "$dir" --init RANDOM --virtual-tokens 3 --seed 4 --out "$ad/rand" >/dev/null
  npm run -s cli -- serve --model "$dir" --adapters "$ad" --write-script >/dev/null
  # Token-id prompts (the fixture's greedy prompt, cut and repeated to different lengths), so the
  # check is about serving, not tokenization (test/fixture-cases covers that).
  "$PYTHON" - "$dir/cases/greedy/case.json" "$model" > "$ad/rows.jsonl" <<'PY'
import json, sys
ids = json.load(open(sys.argv[1]))["greedy"]["prompt_ids"]
rows = [("trained", ids, 8), ("ptuning", ids[:2], 6), ("rand", ids + ids[:3], 8), (sys.argv[2], ids[1:], 7)]
for model, prompt, n in rows:
    print(json.dumps({"model": model, "prompt": prompt, "max_tokens": n, "temperature": 0}))
PY
  "$PYTHON" "$ad/serve_peft.py" --base-model "$dir" --adapters "$ad" --batch "$ad/rows.jsonl" 2>/dev/null > "$ad/serve.json"
  "$PYTHON" scripts/serve-crosscheck/peft_reference.py alone "$dir" "$ad" "$ad/rows.jsonl" 2>/dev/null > "$ad/alone.json"
  rm -rf "$OUT/$model"
  mkdir -p "$OUT/$model"
  for a in ptuning rand; do mkdir -p "$OUT/$model/$a" && cp "$ad/$a/adapter_config.json" "$ad/$a/adapter_model.safetensors" "$OUT/$model/$a/"; done
  "$PYTHON" - "$WORK/all.json" "$model" "$ad" <<'PY'
import hashlib, json, sys
path, model, ad = sys.argv[1:]
all = json.load(open(path))
serve = json.load(open(f"{ad}/serve.json"))
all[model] = {
    "rows": [json.loads(l) for l in open(f"{ad}/rows.jsonl") if l.strip()],
    "serve_peft_ids": [r["ids"] for r in serve],
    "peft_alone_ids": json.load(open(f"{ad}/alone.json")),
    "serve_peft_sha256": hashlib.sha256(open(f"{ad}/serve_peft.py", "rb").read()).hexdigest(),
}
json.dump(all, open(path, "w"), indent=1)
PY
  echo "$model: done" >&2
done
cp "$WORK/all.json" "$OUT/crosscheck.json"
"$PYTHON" -c "import transformers, peft, torch; print(f'torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}')" > "$OUT/VERSIONS.txt"
echo "wrote $OUT/crosscheck.json" >&2
