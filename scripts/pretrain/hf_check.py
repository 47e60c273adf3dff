# Checks the model folder against the real Hugging Face stack: transformers loads it, its
# tokenizer gives the same ids as bpe.py, its logits match llama.py, and PEFT prompt tuning
# (the cookbook's loop: PromptTuningConfig, AdamW, linear schedule, greedy label decoding) learns
# the complaint task on it. Needs transformers, peft and torch >= 2; run it from a virtualenv
# that has them (they are not Debian packages), e.g.
#
#   python -m venv /tmp/hf && /tmp/hf/bin/pip install transformers peft torch
#   /tmp/hf/bin/python scripts/pretrain/hf_check.py [--train-steps 300]
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from llama import LlamaForCausalLM as OwnLlama  # noqa: E402
from prompt_tune import INIT_TEXT, norm, read_task  # noqa: E402
from safetensors_io import load_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def main() -> None:
    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default=os.path.join(ROOT, 'public', 'models', 'playground-demo'))
    ap.add_argument('--datasets', default=os.path.join(ROOT, 'public', 'datasets'))
    ap.add_argument('--train-steps', type=int, default=300)
    ap.add_argument('--virtual-tokens', type=int, default=8)
    ap.add_argument('--init', default='TEXT')
    ap.add_argument('--seed', type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    report: dict = {}

    tok = AutoTokenizer.from_pretrained(args.model)
    own_tok = bpe.load(args.model)
    texts = [x for task in ('complaint', 'topic', 'support-reply') for split in ('train', 'test')
             for pair in read_task(args.datasets, task, split) for x in pair] + [INIT_TEXT, '', '  two  spaces ', 'tab\tand\nnewline', 'émoji 😀']
    mismatched = [t for t in texts if tok(t).input_ids != own_tok.encode(t)]
    report['tokenizer'] = {'class': type(tok).__name__, 'strings': len(texts), 'mismatched': len(mismatched), 'first_mismatch': mismatched[:1]}
    bad_decode = [t for t in texts if tok.decode(tok(t).input_ids, skip_special_tokens=True) != t]
    report['tokenizer']['decode_roundtrip_failures'] = len(bad_decode)

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    with open(os.path.join(args.model, 'config.json')) as f:
        own = OwnLlama(json.load(f))
    own.load_state_dict(load_safetensors(os.path.join(args.model, 'model.safetensors')))
    own.eval()
    batch = tok(texts[:8], return_tensors='pt', padding=True) if tok.pad_token else None
    if batch is None:
        tok.pad_token = tok.eos_token
        batch = tok(texts[:8], return_tensors='pt', padding=True)
    with torch.no_grad():
        a = model(**batch).logits
        b = own(batch.input_ids, batch.attention_mask.float())
    m = batch.attention_mask.bool()
    report['logits_max_abs_diff'] = (a - b).abs()[m].max().item()
    report['logits_max_abs'] = a.abs()[m].max().item()

    # PEFT prompt tuning, as the cookbook does it.
    peft_config = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=args.virtual_tokens,
                                     prompt_tuning_init=getattr(PromptTuningInit, args.init),
                                     prompt_tuning_init_text=INIT_TEXT if args.init == 'TEXT' else None, tokenizer_name_or_path=args.model)
    peft_model = get_peft_model(model, peft_config)
    train = read_task(args.datasets, 'complaint', 'train')
    test = read_task(args.datasets, 'complaint', 'test')
    rows = []
    for x, y in train:
        xi = tok(x).input_ids
        yi = tok(y, add_special_tokens=False).input_ids + [tok.eos_token_id]
        rows.append((xi + yi, [-100] * len(xi) + yi))
    opt = torch.optim.AdamW(peft_model.parameters(), lr=3e-2)
    sched = get_linear_schedule_with_warmup(opt, 0, args.train_steps)
    g = torch.Generator().manual_seed(args.seed)
    order: list[int] = []
    peft_model.train()
    losses = []
    for step in range(args.train_steps):
        if len(order) < 8:
            order += torch.randperm(len(rows), generator=g).tolist()
        chunk, order = order[:8], order[8:]
        T = max(len(rows[i][0]) for i in chunk)
        ids = torch.tensor([rows[i][0] + [tok.pad_token_id] * (T - len(rows[i][0])) for i in chunk])
        att = torch.tensor([[1] * len(rows[i][0]) + [0] * (T - len(rows[i][0])) for i in chunk])
        lab = torch.tensor([rows[i][1] + [-100] * (T - len(rows[i][1])) for i in chunk])
        loss = peft_model(input_ids=ids, attention_mask=att, labels=lab).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
    peft_model.eval()
    correct = 0
    for x, y in test:
        ids = tok(x, return_tensors='pt')
        with torch.no_grad():
            out = peft_model.generate(**ids, max_new_tokens=3, do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
        pred = tok.decode(out[0, ids.input_ids.shape[1]:], skip_special_tokens=True)
        correct += norm(pred) == norm(y)
    report['peft'] = {'init': args.init, 'virtual_tokens': args.virtual_tokens, 'steps': args.train_steps,
                      'final_train_loss_mean_last10': sum(losses[-10:]) / 10, 'test_accuracy': correct / len(test)}
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
