# Used by run.sh: one model, one adapter exported by the engine.
# Loads adapters exported by the engine with real transformers + PEFT and compares logits,
# loss and greedy ids with what the engine's CLI printed for the same inputs.
import json, os, sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel
model_dir, adapter_dir, batch_file, engine_out, greedy_file = sys.argv[1:6]
# Eager attention, as the fixtures: SDPA has no logit soft-capping (Gemma 2), and rows whose keys
# are all masked (left padding inside a sliding window) come out differently from eager's.
base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=os.environ.get('ATTN', 'eager'))
model = PeftModel.from_pretrained(base, adapter_dir).eval()
b = json.load(open(batch_file))
ids = torch.tensor(b['input_ids']); mask = torch.tensor(b['attention_mask']); labels = torch.tensor(b['labels'])
with torch.no_grad():
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
ours = load_file(engine_out)
diff = (out.logits - ours['logits']).abs().max().item()
eng = json.load(open(engine_out + '.json'))
print(json.dumps({'model': model_dir.split('/')[-1], 'peft_loss': out.loss.item(), 'engine_loss': eng['loss'], 'max_logit_diff': diff, 'max_logit': out.logits.abs().max().item()}))
g = json.load(open(greedy_file))
prompt = torch.tensor([g['prompt_ids']])
with torch.no_grad():
    gen = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=len(g['engine_ids']), do_sample=False, eos_token_id=None, pad_token_id=0)
peft_ids = gen[0, prompt.shape[1]:].tolist() if gen.shape[1] > prompt.shape[1] else gen[0].tolist()
print(json.dumps({'greedy_equal': peft_ids[-len(g['engine_ids']):] == g['engine_ids'], 'peft': peft_ids, 'engine': g['engine_ids']}))
