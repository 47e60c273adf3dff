# Held-out label accuracy of a soft prompt the engine trained, measured with the real libraries:
# transformers loads the base model, PeftModel.from_pretrained the exported adapter, and each
# example's label is decoded greedily, as the engine's `eval` does. Same numbers here and in
# the CLI mean the adapter behaves the same on a server.
#   python scripts/peft-crosscheck/label_accuracy.py MODEL_DIR ADAPTER_DIR TEST.jsonl [TEMPLATE]
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, adapter_dir, test = sys.argv[1:4]
template = sys.argv[4] if len(sys.argv) > 4 else 'Tweet text : {text} Label : '
tok = AutoTokenizer.from_pretrained(model_dir)
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter_dir).eval()
rows = [json.loads(line) for line in open(test) if line.strip()]
longest = max(len(tok(r['label']).input_ids) for r in rows) + 1
correct = 0
for r in rows:
    enc = tok(template.format(**r), return_tensors='pt')
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=longest, do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    correct += tok.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True).strip() == r['label']
print(json.dumps({'adapter': adapter_dir, 'examples': len(rows), 'accuracy': correct / len(rows)}))
