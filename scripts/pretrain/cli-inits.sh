#!/usr/bin/env bash
# The issue's measurement with the engine's own CLI (WASM backend): on the complaint task, the
# majority and text-prompt baselines, then a soft prompt per init (TEXT, SAMPLE_VOCAB, RANDOM)
# trained for STEPS steps and evaluated on the held-out split. The JSON lines land in $OUT.
# Steps to 90% of the final accuracy: a run stopped by --max-steps N is the first N steps of
# the full run (same data order and schedule), so each of CHECKPOINTS is trained and evaluated.
#
#   bash scripts/pretrain/cli-inits.sh            # MODEL, V, STEPS, OUT, CHECKPOINTS override the defaults
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-public/models/playground-demo}
V=${V:-8}
STEPS=${STEPS:-300}
OUT=${OUT:-out/demo-inits}
CHECKPOINTS=${CHECKPOINTS:-5 10 15 20 25 30 40 50 75 100}
TRAIN=public/datasets/complaint.train.jsonl
TEST=public/datasets/complaint.test.jsonl
INIT_TEXT='Classify if the tweet is a complaint or not:'
mkdir -p "$OUT"
rm -f "$OUT/checkpoints.txt"
cli() { npm run -s cli -- "$@" 2>/dev/null; }

cli eval --model "$MODEL" --data "$TEST" > "$OUT/no-prompt.eval.json"
cli eval --model "$MODEL" --data "$TEST" --text-prompt "$INIT_TEXT" > "$OUT/text-prompt.eval.json"
# 300 rows / batch 8 = 38 steps an epoch; 8 epochs give the linear schedule room for STEPS steps.
EPOCHS=$(( (STEPS + 37) / 38 ))
for init in TEXT SAMPLE_VOCAB RANDOM; do
  cli train --model "$MODEL" --data "$TRAIN" --init "$init" --virtual-tokens "$V" --epochs "$EPOCHS" --max-steps "$STEPS" \
    --val-split 0 --sync-every 10 --out "$OUT/$init" > "$OUT/$init.train.jsonl"
  cli eval --model "$MODEL" --adapter "$OUT/$init" --data "$TEST" > "$OUT/$init.eval.json"
done
for init in TEXT SAMPLE_VOCAB RANDOM; do
  for n in $CHECKPOINTS; do
    cli train --model "$MODEL" --data "$TRAIN" --init "$init" --virtual-tokens "$V" --epochs "$EPOCHS" --max-steps "$n" \
      --val-split 0 --sync-every 10 --out "$OUT/$init-$n" > /dev/null
    echo "$init $n $(cli eval --model "$MODEL" --adapter "$OUT/$init-$n" --data "$TEST")" >> "$OUT/checkpoints.txt"
  done
done
for f in "$OUT"/*.eval.json; do echo "$(basename "$f" .eval.json): $(cat "$f")"; done
for init in TEXT SAMPLE_VOCAB RANDOM; do echo "$init train: $(tail -n 1 "$OUT/$init.train.jsonl")"; done
