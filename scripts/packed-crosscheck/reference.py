"""PEFT's side of the packed-batch cross-check (scripts/packed-crosscheck/run.sh): wider models
than the fixtures (head size 32-64, so the SIMD attention kernel runs; prompts up to 200 tokens, so
attention and SwiGLU also take tfjs's ops), built with transformers' own classes and random
weights, three PEFT adapters each (PROMPT_TUNING, PREFIX_TUNING, LORA with non-zero B), and per
row the greedy ids and last-position logits of the row alone (PeftModel.from_pretrained).

    python reference.py OUT_DIR

With SIXTEEN_BIT=1 the base checkpoints are saved as the real ones are stored (BF16; BLOOM in
F16) while PEFT's side still loads them with dtype=torch.float32 (widening is exact), so the
engine's packed 16-bit products are checked against the same numbers.
"""
import json, os, random, shutil, sys

import torch
from peft import LoraConfig, PeftModel, PrefixTuningConfig, PromptTuningConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM

FIX = "test/fixtures/families"
SHAPES = {
    # family: config fields over the fixture's (its tokenizer and vocabulary are kept)
    "qwen3": dict(hidden_size=256, num_attention_heads=8, num_key_value_heads=2, head_dim=32, intermediate_size=768, num_hidden_layers=2, max_position_embeddings=512),
    "gemma3_text": dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2, head_dim=64, intermediate_size=512, num_hidden_layers=3, sliding_window=6, max_position_embeddings=512),
    "bloom": dict(hidden_size=256, n_head=8, n_layer=2),
}
# Made per model: PEFT resolves "all-linear" into the config it is given.
ADAPTERS = {
    "prompt": lambda: PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=6),
    "prefix": lambda: PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
    "lora": lambda: LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
}


@torch.no_grad()
def main(out):
    for family, fields in SHAPES.items():
        d = os.path.join(out, family)
        os.makedirs(d, exist_ok=True)
        config = AutoConfig.from_pretrained(os.path.join(FIX, family))
        for k, v in fields.items():
            setattr(config, k, v)
        if family == "gemma3_text":
            config.layer_types = ["sliding_attention", "sliding_attention", "full_attention"]
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_config(config).eval()
        if os.environ.get("SIXTEEN_BIT") == "1":
            base = base.to(torch.float16 if family == "bloom" else torch.bfloat16)
        base.save_pretrained(d)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(FIX, family, f), d)
        for name, make in ADAPTERS.items():
            torch.manual_seed(1)
            m = get_peft_model(AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32), make())
            with torch.no_grad():  # prompts and prefixes far from zero, so rows differ
                for n, p in m.named_parameters():
                    if p.requires_grad and "lora" not in n:
                        p.normal_(0, 1.0)
            m.save_pretrained(os.path.join(d, "adapters", name))
        rng = random.Random(2)
        vocab = config.vocab_size
        rows = []
        for i, (adapter, length, new) in enumerate([("prompt", 9, 8), ("prefix", 5, 8), ("lora", 12, 8), (None, 7, 8), ("prompt", 200, 6), ("lora", 3, 8), ("prefix", 30, 8), (None, 200, 6)]):
            rows.append({"adapter": adapter, "ids": [rng.randrange(3, vocab) for _ in range(length)], "max_new": new})
        for r in rows:
            b = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
            m = b if r["adapter"] is None else PeftModel.from_pretrained(b, os.path.join(d, "adapters", r["adapter"])).eval()
            ids = torch.tensor([r["ids"]])
            mask = torch.ones_like(ids)
            r["logits"] = m(input_ids=ids, attention_mask=mask).logits[0, -1].tolist()
            seq = m.generate(input_ids=ids, attention_mask=mask, max_new_tokens=r["max_new"], do_sample=False, min_new_tokens=r["max_new"]).tolist()[0]
            r["greedy"] = seq[len(r["ids"]):] if seq[: len(r["ids"])] == r["ids"] else seq
        json.dump(rows, open(os.path.join(d, "reference.json"), "w"))
        print(family, "ok", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
