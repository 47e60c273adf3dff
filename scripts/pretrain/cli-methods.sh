#!/usr/bin/env bash
# The four tuning methods side by side with the CLI (WASM backend) on the demo model: for each
# task, the no-adapter baseline, then each method with its defaults (PEFT's settings, the method's
# default learning rate) for EPOCHS epochs on the same data, seed and split, evaluated on the
# task's held-out test file. Prints a Markdown table; the JSON lines land in $OUT.
#
#   bash scripts/pretrain/cli-methods.sh          # MODEL, EPOCHS, TASKS, OUT override the defaults
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-public/models/playground-demo}
EPOCHS=${EPOCHS:-3}
TASKS=${TASKS:-complaint department}
OUT=${OUT:-out/demo-methods}
mkdir -p "$OUT"
cli() { npm run -s cli -- "$@" 2>/dev/null; }
for task in $TASKS; do
  cli eval --model "$MODEL" --data "public/datasets/$task.test.jsonl" > "$OUT/$task-none.eval.json"
  for method in prompt prefix p_tuning lora; do
    cli train --model "$MODEL" --data "public/datasets/$task.train.jsonl" --method "$method" --epochs "$EPOCHS" --sync-every 10 --out "$OUT/$task-$method" | tail -n 1 > "$OUT/$task-$method.train.json"
    cli eval --model "$MODEL" --adapter "$OUT/$task-$method" --data "public/datasets/$task.test.jsonl" > "$OUT/$task-$method.eval.json"
  done
done
python3 - "$OUT" $TASKS <<'PY'
import json, os, sys
out, tasks = sys.argv[1], sys.argv[2:]
print('| task | method | trainable values | adapter file (KB) | step (s) | best validation loss | test accuracy | per label |')
print('|---|---|---|---|---|---|---|---|')
for task in tasks:
    none = json.load(open(f'{out}/{task}-none.eval.json'))
    maj = none['majority_baseline']
    print(f"| {task} | majority label ({maj['label']}) | 0 | 0 | | | {100 * maj['accuracy']:.1f}% | |")
    print(f"| {task} | no adapter | 0 | 0 | | {none['loss']:.4f} (test) | {100 * none['accuracy']:.1f}% | |")
    for m in ['prompt', 'prefix', 'p_tuning', 'lora']:
        t = json.load(open(f'{out}/{task}-{m}.train.json'))
        e = json.load(open(f'{out}/{task}-{m}.eval.json'))
        size = os.path.getsize(f'{out}/{task}-{m}/adapter_model.safetensors') / 1024
        per = ', '.join(f"{k} {100 * v['accuracy']:.0f}%" for k, v in e['per_label'].items())
        print(f"| {task} | {m} | {t['trainable_values']:,} | {size:.0f} | {t['step_seconds']:.3f} | {t['best_val_loss']:.4f} | {100 * e['accuracy']:.1f}% | {per} |")
PY
