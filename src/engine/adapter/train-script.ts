// train_peft.py: the playground's run as a PEFT + transformers script, for when a run outgrows
// the tab. It reads the exported dataset JSONL, applies the same template and truncation, and
// trains the same method with the same optimizer and schedule; `accelerate launch train_peft.py`
// spreads it over several GPUs.
import type { MethodConfig } from '../methods/index.ts';

export interface TrainScriptOptions {
  baseModel: string;
  revision: string | null;
  datasetFile: string;
  testFile: string | null;
  template: string;
  inputColumn: string;
  targetColumn: string;
  taskKind: 'label' | 'generation';
  method: MethodConfig;
  lr: number;
  epochs: number;
  batchSize: number;
  maxLength: number;
  warmupSteps: number;
  weightDecay: number;
  valSplit: number;
  /** Evaluations without a better validation loss before stopping (0: off), as the engine counts them. */
  patience: number;
  /** Validate every N optimizer steps (the run's resolved cadence). */
  evalEvery: number;
  /** Stop after N steps (null: all epochs); the schedule still spans every epoch, as in the engine. */
  maxSteps: number | null;
  seed: number;
  /** split.json beside the script: the row ids the run trained and validated on. */
  splitFile: string | null;
}

/** A Python literal for a string (JSON string syntax is valid Python). */
const py = (s: string | null): string => (s === null ? 'None' : JSON.stringify(s));

/** The PEFT config the run used, as Python, and what the docstring says is trained. */
function peftConfig(m: MethodConfig): { imports: string; config: string; trains: string } {
  switch (m.method) {
    case 'prompt':
      return {
        imports: 'PromptTuningConfig, PromptTuningInit',
        config: `PromptTuningConfig(
            task_type=TaskType.CAUSAL_LM,
            prompt_tuning_init=getattr(PromptTuningInit, ${py(m.init)}),  # SAMPLE_VOCAB needs peft>=0.18
            prompt_tuning_init_text=${m.init === 'TEXT' ? py(m.initText) : 'None'},
            tokenizer_name_or_path=${m.init === 'TEXT' ? 'args.base_model' : 'None'},
            num_virtual_tokens=${m.numVirtualTokens},
        )`,
        trains: `the soft prompt (${m.numVirtualTokens} virtual tokens)`,
      };
    case 'prefix':
      return {
        imports: 'PrefixTuningConfig',
        config: `PrefixTuningConfig(
            task_type=TaskType.CAUSAL_LM,
            num_virtual_tokens=${m.numVirtualTokens},
            prefix_projection=${m.prefixProjection ? 'True' : 'False'},${m.encoderHiddenSize !== null ? `\n            encoder_hidden_size=${m.encoderHiddenSize},` : ''}
        )`,
        trains: `a prefix of ${m.numVirtualTokens} keys and values in every layer${m.prefixProjection ? ' (through a projection)' : ''}`,
      };
    case 'p_tuning':
      return {
        imports: 'PromptEncoderConfig',
        config: `PromptEncoderConfig(
            task_type=TaskType.CAUSAL_LM,
            num_virtual_tokens=${m.numVirtualTokens},
            encoder_reparameterization_type=${py(m.encoderType)},${m.encoderHiddenSize !== null ? `\n            encoder_hidden_size=${m.encoderHiddenSize},` : ''}
            encoder_num_layers=${m.encoderNumLayers},
            encoder_dropout=${m.encoderDropout},
        )`,
        trains: `a P-tuning prompt encoder (${m.encoderType}) for ${m.numVirtualTokens} virtual tokens`,
      };
    case 'lora':
      return {
        imports: 'LoraConfig',
        config: `LoraConfig(
            task_type=TaskType.CAUSAL_LM,
            r=${m.r},
            lora_alpha=${m.alpha},
            lora_dropout=${m.dropout},
            target_modules=${m.targetModules === null ? 'None' : typeof m.targetModules === 'string' ? py(m.targetModules) : `[${m.targetModules.map(py).join(', ')}]`},${m.useRslora ? '\n            use_rslora=True,' : ''}
        )`,
        trains: `LoRA factors of rank ${m.r} on the target modules`,
      };
  }
}

/** How --from-adapter continues from a folder, or why it cannot (PEFT saved only what inference needs). */
function fromAdapter(m: MethodConfig): string {
  if (m.method === 'lora') return '        model = PeftModel.from_pretrained(base, args.from_adapter, is_trainable=True)';
  if (m.method === 'p_tuning' || (m.method === 'prefix' && m.prefixProjection)) {
    return '        raise SystemExit("PEFT saves only the output of this method\'s encoder: training cannot continue from an adapter folder (train from scratch, or continue in the playground, which keeps the encoder)")';
  }
  const cls = m.method === 'prompt' ? 'PromptTuningConfig' : 'PrefixTuningConfig';
  const initLines =
    m.method === 'prompt'
      ? [
          '        init, config.prompt_tuning_init = config.prompt_tuning_init, PromptTuningInit.RANDOM',
          '        model_init = lambda: setattr(model.peft_config["default"], "prompt_tuning_init", init)',
        ]
      : ['        model_init = lambda: None'];
  return [
    '        # PEFT refuses is_trainable=True for prompt-learning adapters: build a trainable adapter of the',
    "        # folder's shape and load its weights into it.",
    `        config = ${cls}.from_pretrained(args.from_adapter)`,
    ...initLines,
    '        config.inference_mode = False',
    '        config.base_model_name_or_path = args.base_model',
    '        model = get_peft_model(base, config)',
    '        set_peft_model_state_dict(model, load_file(os.path.join(args.from_adapter, "adapter_model.safetensors")))',
    '        model_init()',
  ].join('\n');
}

export function trainScript(o: TrainScriptOptions): string {
  const peft = peftConfig(o.method);
  return `#!/usr/bin/env python
"""${o.method.method === 'prompt' ? 'Prompt tuning' : o.method.method === 'lora' ? 'LoRA' : o.method.method === 'prefix' ? 'Prefix tuning' : 'P-tuning'} with PEFT + transformers: the run you set up in the prompt-tuning playground.

    pip install torch "transformers>=4.40" "peft>=0.10" "accelerate>=0.30"
    python train_peft.py                        # one GPU, Apple MPS or CPU
    accelerate launch train_peft.py             # every GPU of this machine (data parallel)
    accelerate launch train_peft.py --epochs 10 --batch-size 32 --out my-adapter

It trains only ${peft.trains}; every base-model weight stays frozen.
The adapter it writes loads with PeftModel.from_pretrained(base, out) and imports back into the
playground. Start from the browser's adapter with --from-adapter <exported folder>.
"""
import argparse
import json
import math
import os
import random
import re

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from peft import PeftModel, ${peft.imports}, TaskType, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

HERE = os.path.dirname(os.path.abspath(__file__))

BASE_MODEL = ${py(o.baseModel)}
REVISION = ${py(o.revision)}  # the commit the playground trained on
if os.path.isdir(os.path.join(HERE, BASE_MODEL)):
    BASE_MODEL = os.path.join(HERE, BASE_MODEL)  # a base model shipped beside this script
DATASET = os.path.join(HERE, ${py(o.datasetFile)})
TEST_SET = ${o.testFile ? `os.path.join(HERE, ${py(o.testFile)})` : 'None'}
SPLIT = ${o.splitFile ? `os.path.join(HERE, ${py(o.splitFile)})` : 'None'}  # the playground's train/validation/test row ids
TEMPLATE = ${py(o.template)}
TARGET_COLUMN = ${py(o.targetColumn)}
TASK = ${py(o.taskKind)}  # "label": accuracy of the generated label is reported


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-model", default=BASE_MODEL, help="Hub id or local folder of the base model")
    p.add_argument("--revision", default=REVISION)
    p.add_argument("--data", default=DATASET, help="JSONL training data")
    p.add_argument("--test", default=TEST_SET, help="JSONL held-out data for the final evaluation")
    p.add_argument("--lr", type=float, default=${o.lr})
    p.add_argument("--epochs", type=int, default=${o.epochs})
    p.add_argument("--batch-size", type=int, default=${o.batchSize}, help="per device")
    p.add_argument("--max-length", type=int, default=${o.maxLength}, help="longest example in tokens, virtual tokens excluded")
    p.add_argument("--warmup-steps", type=int, default=${o.warmupSteps})
    p.add_argument("--weight-decay", type=float, default=${o.weightDecay})
    p.add_argument("--val-split", type=float, default=${o.valSplit})
    p.add_argument("--patience", type=int, default=${o.patience}, help="stop after N evaluations without a better validation loss (0: off)")
    p.add_argument("--eval-every", type=int, default=${o.evalEvery}, help="validate every N optimizer steps")
    p.add_argument("--max-steps", type=int, default=${o.maxSteps ?? 'None'}, help="stop after N optimizer steps (the schedule still spans every epoch)")
    p.add_argument("--split", default=SPLIT, help="JSON with the train/validation/test row ids to use (default: the playground run's); none: a seeded split of --val-split")
    p.add_argument("--seed", type=int, default=${o.seed})
    p.add_argument("--from-adapter", default=None, help="continue from an adapter folder (e.g. the playground's export)")
    p.add_argument("--out", default=os.path.join(HERE, "trained-adapter"))
    return p.parse_args()


def fill(template, row):
    """The playground's template rule: {column} is replaced by the row's value."""
    return re.sub(r"\\{([A-Za-z0-9_ -]+)\\}", lambda m: str(row.get(m.group(1), "")), template)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def encode(tokenizer, row, max_length):
    """input + target + EOS; loss only on the target and EOS; over-long inputs lose their start."""
    eos = tokenizer.eos_token_id
    inp = tokenizer(fill(TEMPLATE, row))["input_ids"]
    tgt = tokenizer(str(row[TARGET_COLUMN]), add_special_tokens=False)["input_ids"] + [eos]
    if len(inp) + len(tgt) > max_length:
        lead = 1 if tokenizer.bos_token_id is not None and inp and inp[0] == tokenizer.bos_token_id else 0
        room = max(lead, max_length - len(tgt))
        inp = inp[:lead] + inp[len(inp) - (room - lead):] if room > lead else inp[:lead]
        tgt = tgt[: max_length - len(inp)]
    return {"input_ids": inp + tgt, "labels": [-100] * len(inp) + tgt}


def collate(pad_id):
    def fn(batch):
        T = max(len(b["input_ids"]) for b in batch)
        ids = [b["input_ids"] + [pad_id] * (T - len(b["input_ids"])) for b in batch]
        mask = [[1] * len(b["input_ids"]) + [0] * (T - len(b["input_ids"])) for b in batch]
        labels = [b["labels"] + [-100] * (T - len(b["labels"])) for b in batch]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}
    return fn


@torch.no_grad()
def evaluate_loss(model, loader, accelerator):
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        n = (batch["labels"][:, 1:] != -100).sum()
        loss = model(**batch).loss
        total += accelerator.gather_for_metrics((loss * n).reshape(1)).sum().item()
        count += accelerator.gather_for_metrics(n.reshape(1)).sum().item()
    model.train()
    return total / max(count, 1)


@torch.no_grad()
def label_accuracy(model, tokenizer, rows, device):
    model.eval()
    correct = 0
    norm = lambda s: " ".join(s.strip().lower().split())
    max_new = max(len(tokenizer(str(r[TARGET_COLUMN]), add_special_tokens=False)["input_ids"]) for r in rows) + 1
    for r in rows:
        enc = tokenizer(fill(TEMPLATE, r), return_tensors="pt").to(device)
        out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        pred = tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        correct += norm(pred) == norm(str(r[TARGET_COLUMN]))
    return correct / max(len(rows), 1)


def main():
    args = parse_args()
    accelerator = Accelerator()
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.base_model, revision=args.revision)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    rows = read_jsonl(args.data)
    if args.split and os.path.exists(args.split):
        # The exact rows the playground trained and validated on (indices into the dataset file).
        with open(args.split, encoding="utf-8") as f:
            split = json.load(f)
        if split.get("rows") != len(rows):
            raise SystemExit(f"{args.split} was written for {split.get('rows')} rows, {args.data} has {len(rows)}")
        train_rows = [rows[i] for i in split["train"]]
        val_rows = [rows[i] for i in split["validation"]]
    else:
        order = list(range(len(rows)))
        random.Random(args.seed).shuffle(order)
        n_val = min(len(rows) - 1, max(1, round(len(rows) * args.val_split))) if args.val_split > 0 and len(rows) > 1 else 0
        val_rows = [rows[i] for i in sorted(order[:n_val])]
        train_rows = [rows[i] for i in sorted(order[n_val:])]
    train_set = [encode(tokenizer, r, args.max_length) for r in train_rows]
    val_set = [encode(tokenizer, r, args.max_length) for r in val_rows]

    base = AutoModelForCausalLM.from_pretrained(args.base_model, revision=args.revision)
    if args.from_adapter:
${fromAdapter(o.method)}
    else:
        config = ${peft.config}
        model = get_peft_model(base, config)
    if accelerator.is_main_process:
        model.print_trainable_parameters()

    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, collate_fn=collate(pad_id))
    val_loader = DataLoader(val_set, batch_size=args.batch_size, collate_fn=collate(pad_id))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.weight_decay)
    model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)
    total_steps = args.epochs * len(train_loader)
    scheduler = get_linear_schedule_with_warmup(optimizer, args.warmup_steps, total_steps)

    best, since_best, step, stop = math.inf, 0, 0, False
    for epoch in range(args.epochs):
        for batch in train_loader:
            loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if accelerator.is_main_process and (step % 10 == 0 or step == 1):
                print(f"epoch {epoch + 1} step {step}/{total_steps} loss {loss.item():.4f} lr {scheduler.get_last_lr()[0]:.2e}")
            # Validation every --eval-every steps, patience in evaluations: the engine's cadence and unit.
            if val_set and step % args.eval_every == 0:
                val_loss = evaluate_loss(model, val_loader, accelerator)
                if accelerator.is_main_process:
                    print(f"step {step}: validation loss {val_loss:.4f}")
                if val_loss < best:
                    best, since_best = val_loss, 0
                    accelerator.wait_for_everyone()
                    if accelerator.is_main_process:
                        accelerator.unwrap_model(model).save_pretrained(args.out)
                else:
                    since_best += 1
                    if args.patience and since_best >= args.patience:
                        if accelerator.is_main_process:
                            print(f"early stopping: no better validation loss for {args.patience} evaluations")
                        stop = True
            if args.max_steps and step >= args.max_steps:
                stop = True
            if stop:
                break
        if stop:
            break
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if not val_set:
            accelerator.unwrap_model(model).save_pretrained(args.out)
        print(f"adapter written to {args.out}" + (f" (best validation loss {best:.4f})" if val_set else ""))
        if TASK == "label" and args.test and os.path.exists(args.test):
            trained = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(args.base_model, revision=args.revision), args.out)
            trained.to(accelerator.device)
            print(f"accuracy on {os.path.basename(args.test)}: {label_accuracy(trained, tokenizer, read_jsonl(args.test), accelerator.device):.3f}")


if __name__ == "__main__":
    main()
`;
}
