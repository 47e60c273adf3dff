# An independent PyTorch check that the demo model is prompt-tunable, with PEFT's semantics
# (PromptTuningConfig, task_type CAUSAL_LM) as SPEC.md states them: a [V, H] soft prompt in
# front of the input embeddings, positions over all V + T, loss on target tokens + EOS only,
# AdamW with a linear schedule, greedy decoding of the label for accuracy. It is the oracle the
# engine's CLI numbers are compared with, and it was the only judge while the CLI was not ready.
#
#   /usr/bin/python3 scripts/pretrain/prompt_tune.py --task complaint [--inits TEXT,SAMPLE_VOCAB,RANDOM]
import argparse
import json
import os
import random
import time

import torch
import torch.nn.functional as F

import bpe
from llama import LlamaForCausalLM
from safetensors_io import load_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
INIT_TEXT = 'Classify if the tweet is a complaint or not:'
LABEL_TEMPLATE = 'Tweet text : {text} Label : '


def load_model(folder: str) -> tuple[LlamaForCausalLM, bpe.BPETokenizer]:
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    model = LlamaForCausalLM(config)
    state = load_safetensors(os.path.join(folder, 'model.safetensors'))
    model.load_state_dict(state, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, bpe.load(folder)


def read_task(folder: str, task: str, split: str) -> list[tuple[str, str]]:
    """(input text, target) pairs, templated as the CLI does by default."""
    out = []
    with open(os.path.join(folder, f'{task}.{split}.jsonl'), encoding='utf-8') as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append((LABEL_TEMPLATE.format(text=r['text']), r['label']) if 'label' in r else (r['prompt'], r['completion']))
    return out


def encode(tok, pairs):
    rows = []
    for inp, target in pairs:
        x = tok.encode(inp)
        y = tok.encode(target, add_bos=False) + [bpe.EOS]
        rows.append((x + y, [-100] * len(x) + y))
    return rows


def collate(rows):
    T = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), T), bpe.EOS, dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), T))
    for i, (x, y) in enumerate(rows):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return ids, mask, labels


def prompted_logits(model, prompt, ids, mask):
    B = ids.shape[0]
    embeds = model.embed(ids)
    if prompt is not None:
        V = prompt.shape[0]
        embeds = torch.cat([prompt.unsqueeze(0).expand(B, -1, -1), embeds], 1)
        mask = torch.cat([torch.ones(B, V), mask], 1)
    return model.forward_embeds(embeds, mask)


def peft_loss(model, prompt, ids, mask, labels):
    logits = prompted_logits(model, prompt, ids, mask)
    if prompt is not None:
        labels = torch.cat([torch.full((labels.shape[0], prompt.shape[0]), -100, dtype=torch.long), labels], 1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


@torch.no_grad()
def greedy(model, tok, prompt, inputs: list[str], max_new: int) -> list[str]:
    """Greedy continuation of each input, stopping at EOS; inputs of one length share a batch."""
    enc = [tok.encode(s) for s in inputs]
    outs: list[list[int]] = [[] for _ in inputs]
    by_len: dict[int, list[int]] = {}
    for i, e in enumerate(enc):
        by_len.setdefault(len(e), []).append(i)
    for idx in by_len.values():
        ids = torch.tensor([enc[i] for i in idx])
        done = torch.zeros(len(idx), dtype=torch.bool)
        for _ in range(max_new):
            logits = prompted_logits(model, prompt, ids, torch.ones(ids.shape))
            nxt = logits[:, -1].argmax(-1)
            for j, i in enumerate(idx):
                if not done[j]:
                    if nxt[j].item() == bpe.EOS:
                        done[j] = True
                    else:
                        outs[i].append(nxt[j].item())
            if done.all():
                break
            ids = torch.cat([ids, nxt[:, None]], 1)
    return [tok.decode(o).strip() for o in outs]


def norm(s: str) -> str:
    return ' '.join(s.split()).lower()


def accuracy(model, tok, prompt, pairs, prefix: str | None = None) -> tuple[float, list[str]]:
    max_new = max(len(tok.encode(t, add_bos=False)) for _, t in pairs) + 1
    inputs = [f'{prefix} {x}' if prefix else x for x, _ in pairs]
    preds = greedy(model, tok, prompt, inputs, max_new)
    return sum(norm(p) == norm(t) for p, (_, t) in zip(preds, pairs)) / len(pairs), preds


def init_prompt(model, tok, kind: str, V: int, seed: int) -> torch.Tensor:
    emb = model.model.embed_tokens.weight
    g = torch.Generator().manual_seed(seed)
    if kind == 'TEXT':
        ids = tok.encode(INIT_TEXT)
        ids = (ids * (V // len(ids) + 1))[:V]
        return emb[ids].clone()
    if kind == 'SAMPLE_VOCAB':
        return emb[torch.randint(0, emb.shape[0], (V,), generator=g)].clone()
    return torch.randn(V, emb.shape[1], generator=g)


def train(model, tok, train_pairs, test_pairs, kind, V, steps, lr, batch, seed, eval_every):
    prompt = torch.nn.Parameter(init_prompt(model, tok, kind, V, seed))
    opt = torch.optim.AdamW([prompt], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (steps - s) / steps))  # linear, no warmup
    rows = encode(tok, train_pairs)
    test_rows = encode(tok, test_pairs)
    rng = random.Random(seed)
    order: list[int] = []
    curve = []
    losses = []

    def evaluate(step):
        with torch.no_grad():
            tl = sum(peft_loss(model, prompt, *collate(test_rows[i:i + 32])).item() * len(test_rows[i:i + 32])
                     for i in range(0, len(test_rows), 32)) / len(test_rows)
        acc = accuracy(model, tok, prompt.detach(), test_pairs)[0]  # exact match of the greedy completion
        curve.append({'step': step, 'train_loss': sum(losses[-10:]) / max(1, len(losses[-10:])) if losses else None, 'test_loss': tl, 'accuracy': acc})

    evaluate(0)
    for step in range(1, steps + 1):
        if len(order) < batch:
            more = list(range(len(rows)))
            rng.shuffle(more)
            order += more
        chunk, order = order[:batch], order[batch:]
        loss = peft_loss(model, prompt, *collate([rows[i] for i in chunk]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    return prompt.detach(), curve


def steps_to_90(curve) -> int | None:
    final = curve[-1]['accuracy']
    return next((c['step'] for c in curve if c['accuracy'] is not None and c['accuracy'] >= 0.9 * final), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default=os.path.join(ROOT, 'public', 'models', 'playground-demo'))
    ap.add_argument('--datasets', default=os.path.join(ROOT, 'public', 'datasets'))
    ap.add_argument('--task', default='complaint')
    ap.add_argument('--inits', default='TEXT,SAMPLE_VOCAB,RANDOM')
    ap.add_argument('--virtual-tokens', type=int, default=8)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--lr', type=float, default=3e-2)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--eval-every', type=int, default=25)
    ap.add_argument('--out', help='write the curves and summary as JSON here')
    ap.add_argument('--show', type=int, default=3, help='print this many test predictions')
    ap.add_argument('--show-errors', type=int, default=0, help='print this many misclassified test examples')
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, tok = load_model(args.model)
    train_pairs = read_task(args.datasets, args.task, 'train')
    test_pairs = read_task(args.datasets, args.task, 'test')
    label_task = json.loads(open(os.path.join(args.datasets, f'{args.task}.train.jsonl')).readline()).get('label') is not None
    report = {'task': args.task, 'virtual_tokens': args.virtual_tokens, 'steps': args.steps, 'lr': args.lr, 'batch': args.batch, 'seed': args.seed}
    if label_task:
        labels = [t for _, t in test_pairs]
        report['majority_baseline'] = max(labels.count(l) for l in set(labels)) / len(labels)
    # "Accuracy" is exact match of the greedy output: the label, or the whole completion.
    acc, preds = accuracy(model, tok, None, test_pairs, prefix=INIT_TEXT)
    report['text_prompt_baseline'] = acc
    report['text_prompt_predictions'] = dict(sorted({p: preds.count(p) for p in set(preds)}.items(), key=lambda kv: -kv[1])[:5])
    report['no_prompt_baseline'] = accuracy(model, tok, None, test_pairs)[0]
    print(json.dumps(report), flush=True)
    report['inits'] = {}
    for kind in args.inits.split(','):
        t = time.time()
        prompt, curve = train(model, tok, train_pairs, test_pairs, kind, args.virtual_tokens, args.steps, args.lr, args.batch,
                              args.seed, args.eval_every)
        r = {'final_train_loss': curve[-1]['train_loss'], 'final_test_loss': curve[-1]['test_loss'], 'seconds': round(time.time() - t), 'curve': curve}
        r['accuracy'] = curve[-1]['accuracy']
        r['steps_to_90pct'] = steps_to_90(curve)
        _, preds = accuracy(model, tok, prompt, test_pairs)
        r['errors'] = [{'input': x, 'gold': y, 'predicted': p} for (x, y), p in zip(test_pairs, preds) if norm(p) != norm(y)]
        preds = greedy(model, tok, prompt, [x for x, _ in test_pairs[:args.show]], 40)
        r['examples'] = [{'input': x, 'gold': y, 'predicted': p} for (x, y), p in zip(test_pairs, preds)]
        report['inits'][kind] = r
        print(kind, json.dumps({k: v for k, v in r.items() if k not in ('curve', 'errors')}), flush=True)
        for e in r.get('errors', [])[:args.show_errors]:
            print('   error', json.dumps(e), flush=True)
        print('   curve', [(c['step'], round(c['test_loss'], 3), c['accuracy']) for c in curve], flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
