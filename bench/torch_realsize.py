"""PyTorch anchor for the real-size rows: transformers + PEFT prompt tuning of a checkpoint folder
on the CPU, the step the engine times (batch B x T random ids, V virtual tokens, a label task:
the loss on the last 4 tokens of each row), float32 as the engine computes.
Usage: python bench/torch_realsize.py <folder> [B] [T] [V] [steps]"""
import sys, time, torch
from transformers import AutoModelForCausalLM
from peft import PromptTuningConfig, get_peft_model

folder = sys.argv[1]
B, T, V, steps = (int(a) for a in (sys.argv[2:6] + ['8', '64', '20', '3'][len(sys.argv[2:6]):]))
torch.manual_seed(0); torch.set_num_threads(2)
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
vocab, H = model.get_input_embeddings().weight.shape
emb = vocab * H * (1 if model.config.tie_word_embeddings else 2)
nonemb = sum(p.numel() for p in model.parameters()) - emb
model = get_peft_model(model, PromptTuningConfig(task_type='CAUSAL_LM', num_virtual_tokens=V))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-2)
ids = torch.randint(0, vocab, (B, T))
labels = torch.full((B, T), -100); labels[:, -4:] = ids[:, -4:]

def step():
    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
    opt.zero_grad(); loss.backward(); opt.step()
    return loss.item()

step()
ts = []
for _ in range(steps):
    t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
ts.sort(); med = ts[len(ts) // 2]
# The engine's useful FLOPs (transformers computes the LM head at every position; this counts only the label positions).
flops = 4 * nonemb * B * (V + T) + 4 * H * vocab * B * 4
print({'params': nonemb + emb, 'threads': torch.get_num_threads(), 'step_s': round(med, 3), 'tokens_per_s': round(B * (V + T) / med, 1), 'gflops': round(flops / med / 1e9, 2)})
