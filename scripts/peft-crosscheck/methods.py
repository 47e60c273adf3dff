# Every method on every family, end to end against real PEFT: the engine's CLI trains an adapter
# (3 steps on the fixture's train batches, the engine's own init), exports it, and computes logits
# and greedy ids; PeftModel.from_pretrained loads the exported folder unchanged and computes the
# same. Prints one JSON line per (family, method) and a Markdown table at the end.
#
#   /work/.venv-ref/bin/python scripts/peft-crosscheck/methods.py [family ...]
#
# Not part of `npm test` (CI has no PyTorch); test/method-fixtures.test.ts pins the same numbers.
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = os.path.join(ROOT, 'test/fixtures/methods')
FAMILIES = os.path.join(ROOT, 'test/fixtures/families')

# The fixture cases' PEFT configs as CLI flags (phi3 and olmo2 have no PEFT default targets).
CASES = {
    'prefix': ['--method', 'prefix', '--virtual-tokens', '3', '--lr', '0.03'],
    'prefix-proj': ['--method', 'prefix', '--virtual-tokens', '3', '--prefix-projection', '--encoder-hidden-size', '24', '--lr', '0.03'],
    'ptuning-mlp': ['--method', 'p_tuning', '--virtual-tokens', '3', '--encoder-hidden-size', '24', '--lr', '0.03'],
    'ptuning-lstm': ['--method', 'p_tuning', '--virtual-tokens', '3', '--encoder-type', 'LSTM', '--encoder-hidden-size', '12', '--encoder-num-layers', '2', '--lr', '0.03'],
    'lora': ['--method', 'lora', '--lora-r', '4', '--lora-alpha', '8', '--lr', '0.05'],
    'lora-all': ['--method', 'lora', '--lora-r', '2', '--lora-alpha', '6', '--target-modules', 'all-linear', '--lr', '0.05'],
}


def cli(*args):
    out = subprocess.run(['npm', 'run', '-s', 'cli', '--', *args], cwd=ROOT, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith('{')]
    last = json.loads(lines[-1]) if lines else {'error': out.stderr[-500:]}
    if out.returncode != 0 or 'error' in last:
        raise SystemExit(f'cli {" ".join(args)} failed: {last}')
    return last


def main():
    families = sys.argv[1:] or sorted(os.listdir(METHODS))
    rows = []
    tmp = tempfile.mkdtemp()
    for fam in families:
        if not os.path.isdir(os.path.join(METHODS, fam)):
            continue
        model_dir = os.path.join(FAMILIES, fam)
        for case, flags in CASES.items():
            c = json.load(open(os.path.join(METHODS, fam, case, 'case.json')))
            flags = list(flags)
            targets = c['config_kwargs'].get('target_modules')
            if case == 'lora' and isinstance(targets, list):
                flags += ['--target-modules', ','.join(targets)]
            out = os.path.join(tmp, f'{fam}-{case}')
            cli('train', '--model', model_dir, '--batches', os.path.join(METHODS, fam, case, 'case.json'), *flags, '--no-dropout', '--out', out)
            batch_file = os.path.join(tmp, f'{fam}-{case}.batch.json')
            json.dump(c['left'], open(batch_file, 'w'))
            ours = cli('forward', '--model', model_dir, '--adapter', out, '--input', batch_file, '--out', out + '.safetensors')
            g = c['greedy']
            gen = cli('generate', '--model', model_dir, '--adapter', out, '--prompt', g['prompt_text'], '--max-new-tokens', '5', '--greedy')

            base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation='eager')
            model = PeftModel.from_pretrained(base, out).eval()
            b = c['left']
            ids, mask, labels = (torch.tensor(b[k]) for k in ('input_ids', 'attention_mask', 'labels'))
            with torch.no_grad():
                o = model(input_ids=ids, attention_mask=mask, labels=labels)
                prompt = torch.tensor([g['prompt_ids']])
                gen_ids = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=5, do_sample=False, pad_token_id=0)
            logits = load_file(out + '.safetensors')['logits']
            peft_new = gen_ids[0, prompt.shape[1]:].tolist()
            # The CLI stops at EOS (and keeps it); PEFT's generate too.
            row = {
                'family': fam,
                'case': case,
                'peft_type': json.load(open(os.path.join(out, 'adapter_config.json')))['peft_type'],
                'max_logit_diff': (o.logits - logits).abs().max().item(),
                'max_logit': o.logits.abs().max().item(),
                'loss_diff': abs(o.loss.item() - ours['loss']),
                'greedy_equal': peft_new == gen['ids'],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    cases = list(CASES)
    print('\n| family | ' + ' | '.join(cases) + ' |')
    print('|---|' + '---|' * len(cases))
    for fam in dict.fromkeys(r['family'] for r in rows):
        cells = []
        for case in cases:
            r = next((r for r in rows if r['family'] == fam and r['case'] == case), None)
            cells.append('' if r is None else f"{r['max_logit_diff']:.1e}{'' if r['greedy_equal'] else ' (greedy differs)'}")
        print(f'| {fam} | ' + ' | '.join(cells) + ' |')
    worst = max(r['max_logit_diff'] for r in rows)
    print(f'\nworst max |logits diff| {worst:.2e}; greedy equal in {sum(r["greedy_equal"] for r in rows)}/{len(rows)}')


if __name__ == '__main__':
    main()
