# Pretrains the playground's embedded demo model: a small Llama (tied embeddings) on the
# procedural corpus of corpus.py, with a BPE tokenizer trained on the same corpus, written as a
# normal Hugging Face folder. Deterministic given --seed (same torch build and thread count).
#
#   /usr/bin/python3 scripts/pretrain/make_datasets.py        # the demo tasks (kept out of the corpus)
#   /usr/bin/python3 scripts/pretrain/pretrain.py             # -> public/models/playground-demo/
import argparse
import glob
import json
import math
import os
import random
import resource
import sys
import time

import torch
import torch.nn.functional as F

import bpe
from corpus import rows, sample_text
from llama import LlamaForCausalLM
from safetensors_io import save_safetensors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def dataset_texts(folder: str) -> set[str]:
    texts = set()
    for path in glob.glob(os.path.join(folder, '*.jsonl')):
        with open(path, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    texts.update(v for k, v in row.items() if k in ('text', 'prompt'))
    return texts


def model_config(args, vocab_size: int) -> dict:
    return {
        'architectures': ['LlamaForCausalLM'],
        'attention_bias': False,
        'attention_dropout': 0.0,
        'bos_token_id': bpe.BOS,
        'eos_token_id': bpe.EOS,
        'head_dim': args.hidden // args.heads,
        'hidden_act': 'silu',
        'hidden_size': args.hidden,
        'initializer_range': 0.02,
        'intermediate_size': args.intermediate,
        'max_position_embeddings': args.seq_len,
        'mlp_bias': False,
        'model_type': 'llama',
        'num_attention_heads': args.heads,
        'num_hidden_layers': args.layers,
        'num_key_value_heads': args.kv_heads,
        'pretraining_tp': 1,
        'rms_norm_eps': 1e-05,
        'rope_scaling': None,
        'rope_theta': 10000.0,
        'tie_word_embeddings': True,
        'torch_dtype': 'float32',
        'use_cache': True,
        'vocab_size': vocab_size,
    }


def batches(args, tok: bpe.BPETokenizer, exclude: set[str], seed: int, n_rows: int):
    """[B, T] ids and [B, T] loss mask (0 on padding), a batch at a time."""
    it = rows(seed, lambda s: tok.encode(s, add_bos=False), bpe.BOS, bpe.EOS, args.seq_len, n_rows, exclude, p_page=args.p_page)
    while True:
        chunk = [r for _, r in zip(range(args.batch), it)]
        if not chunk:
            return
        ids = torch.full((len(chunk), args.seq_len), bpe.EOS, dtype=torch.long)
        mask = torch.zeros((len(chunk), args.seq_len))
        for i, r in enumerate(chunk):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        yield ids, mask


def lm_loss(model, ids, mask):
    # Right padding after the last document: causal attention never lets real tokens see it,
    # so no attention mask is needed, only the loss mask.
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction='none')
    m = mask[:, 1:].reshape(-1)
    return (loss * m).sum() / m.sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'public', 'models', 'playground-demo'))
    ap.add_argument('--datasets', default=os.path.join(ROOT, 'public', 'datasets'))
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--steps', type=int, default=720)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--seq-len', type=int, default=256)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--warmup', type=int, default=60)
    ap.add_argument('--vocab-size', type=int, default=2048)
    ap.add_argument('--tokenizer-docs', type=int, default=30000)
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--kv-heads', type=int, default=4)
    ap.add_argument('--intermediate', type=int, default=384)
    ap.add_argument('--p-page', type=float, default=0.5)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)

    exclude = dataset_texts(args.datasets)
    if not exclude:
        sys.exit(f'no datasets in {args.datasets}: run make_datasets.py first (their texts must be kept out of the corpus)')
    tok = bpe.train(sample_text(args.seed + 1, args.tokenizer_docs, exclude), args.vocab_size)
    with open(os.path.join(args.out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(bpe.tokenizer_json(tok), f, ensure_ascii=False, indent=1)
    with open(os.path.join(args.out, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(bpe.tokenizer_config(args.seq_len), f, indent=2)
    print(f'tokenizer: {len(tok.vocab)} tokens, {len(tok.merges)} merges, {time.time() - t0:.0f}s', flush=True)

    config = model_config(args, len(tok.vocab))
    model = LlamaForCausalLM({**config, 'seed': args.seed})
    n_params = sum(p.numel() for p in model.parameters())
    print(f'model: {n_params} parameters ({n_params * 4 / 1e6:.2f} MB float32)', flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    # Held-out rows from another seed: the same kind of text, never trained on.
    val = list(batches(args, tok, exclude, args.seed + 2, 4 * args.batch))

    def val_loss() -> float:
        model.eval()
        with torch.no_grad():
            total = sum(lm_loss(model, ids, mask).item() for ids, mask in val)
        model.train()
        return total / len(val)

    log = open(os.path.join(args.out, 'loss.csv'), 'w')
    log.write('step,train_loss,val_loss,lr,elapsed_s\n')
    t_train = time.time()
    running, n_running, train_tokens = 0.0, 0, 0
    for step, (ids, mask) in enumerate(batches(args, tok, exclude, args.seed, args.steps * args.batch)):
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        loss = lm_loss(model, ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        n_running += 1
        train_tokens += int(mask.sum())
        last = step + 1 == args.steps
        if (step + 1) % 25 == 0 or last:
            vl = val_loss() if (step + 1) % 100 == 0 or last else float('nan')
            elapsed = time.time() - t0
            log.write(f'{step + 1},{running / n_running:.4f},{"" if math.isnan(vl) else f"{vl:.4f}"},{lr_at(step):.6f},{elapsed:.0f}\n')
            log.flush()
            print(f'step {step + 1:5d}  loss {running / n_running:.4f}  val {vl:.4f}  {elapsed:.0f}s', flush=True)
            running, n_running = 0.0, 0
    log.close()

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_safetensors(os.path.join(args.out, 'model.safetensors'), state, {'format': 'pt'})
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    summary = {
        'seed': args.seed, 'steps': args.steps, 'batch': args.batch, 'seq_len': args.seq_len, 'lr': args.lr,
        'parameters': n_params, 'train_tokens': train_tokens, 'final_val_loss': round(val_loss(), 4),
        'train_seconds': round(time.time() - t_train), 'total_seconds': round(time.time() - t0), 'threads': args.threads,
        # CPU time over the thread count is what the wall time would be on an otherwise idle machine.
        'cpu_seconds': round(resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime),
        'torch': torch.__version__, 'command': ' '.join(['python3'] + sys.argv),
    }
    with open(os.path.join(args.out, 'pretrain_summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
