"""PEFT's side of the serve cross-check (scripts/serve-crosscheck/run.sh).

    python peft_reference.py make-ptuning MODEL_DIR OUT_DIR SEED
        a P_TUNING adapter as PEFT saves it (prompt_embeddings = the prompt encoder's output)
    python peft_reference.py alone MODEL_DIR ADAPTERS_DIR ROWS.jsonl
        each row generated alone (greedy) by PeftModel.from_pretrained(base, adapter).generate,
        or by the base model for rows naming it; prints the new ids per row as JSON
"""
import json
import os
import sys

import torch
from peft import PeftModel, PromptEncoderConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer


def make_ptuning(model_dir, out, seed):
    torch.manual_seed(int(seed))
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=4, encoder_hidden_size=16)
    model = get_peft_model(base, config)
    # A freshly initialised encoder gives prompts near zero; widen them so the rows differ.
    with torch.no_grad():
        for p in model.prompt_encoder["default"].parameters():
            p.mul_(2.0)
    model.save_pretrained(out)
    print(json.dumps({"wrote": out}))


@torch.no_grad()
def alone(model_dir, adapters, rows_file):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base_name = os.path.basename(os.path.abspath(model_dir))
    out = []
    for line in open(rows_file):
        if not line.strip():
            continue
        row = json.loads(line)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        model = base if row["model"] == base_name else PeftModel.from_pretrained(base, os.path.join(adapters, row["model"])).eval()
        p = row["prompt"]
        ids = torch.tensor([tokenizer(p)["input_ids"] if isinstance(p, str) else p])
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=row["max_tokens"], do_sample=False, pad_token_id=tokenizer.eos_token_id)
        seq = gen[0].tolist()
        # Depending on the version, PEFT's generate returns the input ids in front or only the new ids.
        out.append(seq[ids.shape[1]:] if seq[: ids.shape[1]] == ids[0].tolist() else seq)
    print(json.dumps(out))


if __name__ == "__main__":
    {"make-ptuning": make_ptuning, "alone": alone}[sys.argv[1]](*sys.argv[2:])
