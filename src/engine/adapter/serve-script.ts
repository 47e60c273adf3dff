// serve_peft.py: the playground's mixed-adapter serving (engine/serve, `cli serve`) as a
// transformers + PEFT script for a GPU server. PEFT's own mixed batches (adapter_names) cover
// LoRA-type tuners only, so the script does what the engine does: it looks each row's soft
// prompt up by adapter name, prepends it to that row's inputs_embeds, pads the batch, and decodes
// all rows together with one KV cache, each row with its own sampling settings.

export interface ServeScriptOptions {
  /** Hub id (or folder name) of the base model the adapters were trained on. */
  baseModel: string;
  /** The commit the adapters were trained on; adapters naming another one are refused. */
  revision: string | null;
}

/** A Python literal for a string (JSON string syntax is valid Python). */
const py = (s: string | null): string => (s === null ? 'None' : JSON.stringify(s));

/** The text of serve_peft.py for adapters of `baseModel` (it is written beside the adapter folders). */
export function serveScript(o: ServeScriptOptions): string {
  return `#!/usr/bin/env python
"""Serve many prompt-tuning adapters on one base model, mixed in each batch (transformers + PEFT).

    pip install torch "transformers>=4.45" "peft>=0.10" safetensors
    python serve_peft.py                               # adapters: the folders beside this script
    python serve_peft.py --adapters DIR --port 8000 --device cuda --dtype bfloat16
    python serve_peft.py --batch rows.jsonl            # one mixed batch, no server: prints JSON

Written by the prompt-tuning playground. Every sub-folder of --adapters holding an
adapter_config.json (PROMPT_TUNING, or P_TUNING's saved prompt_embeddings) is an adapter, named
by its folder; new folders are picked up without a restart. The HTTP API is OpenAI's:

    curl localhost:8000/v1/models
    curl localhost:8000/v1/completions -d '{"model": "<adapter>", "prompt": "...", "max_tokens": 16, "temperature": 0}'

A batch row is [soft prompt of its adapter (V_b vectors), the embeddings of its tokens], left
padded; position ids count each row's real tokens from 0, as when the row runs alone through
PeftModel, so every row gets what PeftModel.from_pretrained(base, adapter).generate would give it.
--batch rows.jsonl takes one JSON object per line: {"model", "prompt" (text or token ids),
"max_tokens", "temperature", "top_p", "seed", "stop"}.
"""
import argparse
import inspect
import json
import os
import queue
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from peft import PeftConfig
from peft.utils import load_peft_weights
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))

BASE_MODEL = ${py(o.baseModel)}
REVISION = ${py(o.revision)}  # the commit the adapters were trained on
if os.path.isdir(os.path.join(HERE, BASE_MODEL)):
    BASE_MODEL = os.path.join(HERE, BASE_MODEL)  # a base model shipped beside this script
MAX_TOKENS_LIMIT = 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-model", default=BASE_MODEL, help="Hub id or local folder of the base model")
    p.add_argument("--revision", default=REVISION, help="revision of the base model to load")
    p.add_argument("--adapters", default=HERE, help="folder of adapter folders")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--max-batch", type=int, default=32, help="most rows in one forward pass")
    p.add_argument("--max-queue", type=int, default=256, help="most rows waiting; beyond it requests get 429")
    p.add_argument("--batch-window-ms", type=float, default=5.0, help="how long a request waits for others to join its batch")
    p.add_argument("--allow-drift", action="store_true", help="serve adapters trained on another revision of the base model")
    p.add_argument("--batch", help="run the rows of this JSONL file as one mixed batch, print JSON, and exit")
    return p.parse_args()


class RequestError(Exception):
    def __init__(self, status, message, param=None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


class Adapters:
    """The adapter folders under one directory, re-read when their files change."""

    def __init__(self, root, model, revision, allow_drift):
        self.root, self.model, self.revision, self.allow_drift = root, model, revision, allow_drift
        self.hidden = model.get_input_embeddings().weight.shape[1]
        self.entries = {}  # name -> (signature, info or None, prompt tensor or None, reason)
        self.lock = threading.Lock()

    def _signature(self, folder):
        parts = []
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            p = os.path.join(folder, f)
            parts.append(f"{os.path.getsize(p)}:{os.path.getmtime(p)}" if os.path.exists(p) else "-")
        return "|".join(parts)

    def _load(self, name, folder):
        config = PeftConfig.from_pretrained(folder)
        kind = str(getattr(config.peft_type, "value", config.peft_type))
        if kind not in ("PROMPT_TUNING", "P_TUNING"):
            raise ValueError(f"peft_type is {kind}; only PROMPT_TUNING adapters (or P_TUNING prompt embeddings) can be mixed")
        weights = load_peft_weights(folder, device="cpu")
        if "prompt_embeddings" not in weights:
            raise ValueError(f"adapter_model has no prompt_embeddings (found: {', '.join(weights) or 'none'})")
        prompt = weights["prompt_embeddings"]
        if prompt.ndim != 2 or prompt.shape[1] != self.hidden:
            raise ValueError(f"prompt_embeddings are {list(prompt.shape)}, the base model needs [V, {self.hidden}]")
        trained_on = getattr(config, "revision", None)
        if trained_on and self.revision and trained_on != self.revision and not self.allow_drift:
            raise ValueError(f"adapter was trained on base revision {trained_on}, the loaded model is at {self.revision}; start with --allow-drift to serve it anyway")
        info = {"id": name, "object": "model", "owned_by": "local", "method": kind, "base_model": config.base_model_name_or_path, "revision": trained_on, "num_virtual_tokens": int(prompt.shape[0])}
        p = self.model.get_input_embeddings().weight
        return info, prompt.to(device=p.device, dtype=p.dtype)

    def refresh(self):
        with self.lock:
            seen = set()
            for name in sorted(os.listdir(self.root)):
                folder = os.path.join(self.root, name)
                if not os.path.isfile(os.path.join(folder, "adapter_config.json")):
                    continue
                seen.add(name)
                sig = self._signature(folder)
                if name in self.entries and self.entries[name][0] == sig:
                    continue
                try:
                    info, prompt = self._load(name, folder)
                    self.entries[name] = (sig, info, prompt, None)
                except Exception as e:  # a broken adapter is refused with its reason, the rest keep serving
                    self.entries[name] = (sig, None, None, str(e))
            for name in list(self.entries):
                if name not in seen:
                    del self.entries[name]

    def get(self, name):
        self.refresh()
        with self.lock:
            return self.entries.get(name)

    def listing(self):
        self.refresh()
        with self.lock:
            ready = [e[1] for e in self.entries.values() if e[1]]
            refused = [{"id": n, "reason": e[3]} for n, e in self.entries.items() if not e[1]]
        return ready, refused


def pick(logits, row, generator):
    """The next id of one row: argmax at temperature 0, else sampled with temperature and top_p."""
    if row["temperature"] == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / row["temperature"], dim=-1)
    if row["top_p"] < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < row["top_p"]
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


def cut_at_stop(text, stops):
    cuts = [text.index(s) for s in stops if s in text]
    return text[: min(cuts)] if cuts else None


@torch.no_grad()
def run_batch(model, tokenizer, rows):
    """Decodes rows (each {"prompt": tensor or None, "ids", "max_tokens", ...}) together."""
    embed = model.get_input_embeddings()
    device, dtype = embed.weight.device, embed.weight.dtype
    eos = tokenizer.eos_token_id
    pieces = []
    for r in rows:
        tokens = embed(torch.tensor(r["ids"], dtype=torch.long, device=device))
        pieces.append(torch.cat([r["prompt"], tokens], 0) if r["prompt"] is not None else tokens)
    lengths = [p.shape[0] for p in pieces]
    S, B, H = max(lengths), len(rows), embed.weight.shape[1]
    # Left padding: every row's last real position is the last column, so one new column per step.
    embeds = torch.zeros(B, S, H, device=device, dtype=dtype)
    mask = torch.zeros(B, S, dtype=torch.long, device=device)
    for b, p in enumerate(pieces):
        embeds[b, S - lengths[b]:] = p
        mask[b, S - lengths[b]:] = 1
    counts = torch.tensor(lengths, device=device)
    positions = (torch.cumsum(mask, -1) - 1).clamp(min=0)
    takes_positions = "position_ids" in inspect.signature(model.forward).parameters  # BLOOM: ALiBi from the mask
    extra = {"position_ids": positions} if takes_positions else {}
    out = model(inputs_embeds=embeds, attention_mask=mask, use_cache=True, **extra)
    cache, logits = out.past_key_values, out.logits[:, -1, :]
    generators = [torch.Generator(device="cpu").manual_seed(r["seed"]) for r in rows]
    new = [[] for _ in rows]
    active = [r["max_tokens"] > 0 for r in rows]
    while any(active):
        step_logits = logits.float().cpu()
        feed = []
        for b, r in enumerate(rows):
            if not active[b]:
                feed.append(eos if eos is not None else 0)
                continue
            token = pick(step_logits[b], r, generators[b])
            new[b].append(token)
            feed.append(token)
            if token == eos or len(new[b]) >= r["max_tokens"] or (r["stop"] and cut_at_stop(tokenizer.decode(new[b], skip_special_tokens=True), r["stop"]) is not None):
                active[b] = False
        if not any(active):
            break
        # Finished rows keep their slot with a masked token; the others continue at their own position.
        was = torch.tensor([1 if a else 0 for a in active], device=device)
        mask = torch.cat([mask, was[:, None]], 1)
        step = embed(torch.tensor(feed, device=device))[:, None, :]
        extra = {"position_ids": counts[:, None].clone()} if takes_positions else {}
        counts = counts + was
        out = model(inputs_embeds=step, attention_mask=mask, past_key_values=cache, use_cache=True, **extra)
        cache, logits = out.past_key_values, out.logits[:, -1, :]
    results = []
    for b, r in enumerate(rows):
        text = tokenizer.decode(new[b], skip_special_tokens=True)
        cut = cut_at_stop(text, r["stop"]) if r["stop"] else None
        stopped = cut is not None or (new[b] and new[b][-1] == eos)
        results.append({"ids": new[b], "text": cut if cut is not None else text, "finish_reason": "stop" if stopped else "length"})
    return results


def parse_request(body, base_name, adapters, tokenizer, context):
    """An OpenAI completions body as rows; every problem is a RequestError naming the field."""
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise RequestError(400, '"model" is required: an adapter name or the base model (see GET /v1/models)', "model")
    prompt_tensor, V = None, 0
    if name != base_name:
        entry = adapters.get(name)
        if entry is None:
            raise RequestError(404, f'model "{name}" not found: no adapter folder of that name in {adapters.root}', "model")
        if entry[1] is None:
            raise RequestError(400, f'adapter "{name}" cannot be served: {entry[3]}', "model")
        prompt_tensor, V = entry[2], entry[2].shape[0]
    prompts = body.get("prompt")
    is_ids = lambda p: isinstance(p, list) and p and all(isinstance(x, int) for x in p)
    if isinstance(prompts, str) or is_ids(prompts):
        prompts = [prompts]
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) or is_ids(p) for p in prompts):
        raise RequestError(400, '"prompt" must be a string, a list of strings, or token ids', "prompt")

    def number(key, default, ok, what):
        v = body.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v):
            raise RequestError(400, f'"{key}" must be {what}, got {json.dumps(v)}', key)
        return v

    max_tokens = number("max_tokens", 16, lambda v: float(v).is_integer() and 0 <= v <= MAX_TOKENS_LIMIT, f"an integer in [0, {MAX_TOKENS_LIMIT}]")
    temperature = number("temperature", 1.0, lambda v: 0 <= v <= 2, "a number in [0, 2]")
    top_p = number("top_p", 1.0, lambda v: 0 < v <= 1, "a number in (0, 1]")
    seed = number("seed", random.randrange(2**31), lambda v: float(v).is_integer(), "an integer")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise RequestError(400, '"stop" must be a string or a list of up to 4 non-empty strings', "stop")
    if body.get("stream"):
        raise RequestError(400, '"stream": true is not supported by this server', "stream")
    rows = []
    for i, p in enumerate(prompts):
        ids = tokenizer(p)["input_ids"] if isinstance(p, str) else p
        if V + len(ids) == 0:
            raise RequestError(400, f"prompt {i} is empty", "prompt")
        if context and V + len(ids) >= context:
            raise RequestError(400, f"prompt {i}: {len(ids)} tokens + {V} virtual leave no room in the {context}-token context", "prompt")
        rows.append({"prompt": prompt_tensor, "ids": ids, "max_tokens": int(max_tokens), "temperature": float(temperature), "top_p": float(top_p), "seed": int(seed) + i, "stop": stop})
    return name, rows


class Batcher:
    """Collects rows of concurrent requests for a short window and runs them as one batch."""

    def __init__(self, model, tokenizer, max_batch, max_queue, window_s):
        self.model, self.tokenizer, self.max_batch, self.window_s = model, tokenizer, max_batch, window_s
        self.queue = queue.Queue(maxsize=max_queue)
        threading.Thread(target=self.loop, daemon=True).start()

    def submit(self, rows):
        slots = []
        for r in rows:
            slot = {"row": r, "done": threading.Event()}
            try:
                self.queue.put_nowait(slot)
            except queue.Full:
                raise RequestError(429, f"server is busy: {self.queue.qsize()} rows are queued; retry later")
            slots.append(slot)
        for s in slots:
            s["done"].wait()
        for s in slots:
            if "error" in s:
                raise RequestError(500, s["error"])
        return [s["result"] for s in slots]

    def loop(self):
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + self.window_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            try:
                for s, r in zip(batch, run_batch(self.model, self.tokenizer, [s["row"] for s in batch])):
                    s["result"] = r
            except Exception as e:
                for s in batch:
                    s["error"] = f"{type(e).__name__}: {e}"
            for s in batch:
                s["done"].set()


def main():
    args = parse_args()
    dtype = getattr(torch, args.dtype)
    tokenizer = AutoTokenizer.from_pretrained(args.base_model, revision=args.revision)
    model = AutoModelForCausalLM.from_pretrained(args.base_model, revision=args.revision, dtype=dtype).to(args.device).eval()
    base_name = ${py(o.baseModel)}
    context = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    adapters = Adapters(args.adapters, model, args.revision, args.allow_drift)
    if args.batch:
        rows = []
        with open(args.batch) as f:
            for line in f:
                if line.strip():
                    rows += parse_request(json.loads(line), base_name, adapters, tokenizer, context)[1]
        print(json.dumps([{k: v for k, v in r.items()} for r in run_batch(model, tokenizer, rows)]))
        return
    batcher = Batcher(model, tokenizer, args.max_batch, args.max_queue, args.batch_window_ms / 1000)

    class Handler(BaseHTTPRequestHandler):
        def send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fail(self, e):
            kind = {404: "not_found_error", 429: "rate_limit_error"}.get(e.status, "server_error" if e.status >= 500 else "invalid_request_error")
            self.send(e.status, {"error": {"message": e.message, "type": kind, "param": e.param, "code": e.status}})

        def do_GET(self):
            if self.path.rstrip("/") != "/v1/models":
                return self.fail(RequestError(404, f"no route GET {self.path}"))
            ready, refused = adapters.listing()
            base = {"id": base_name, "object": "model", "owned_by": "local", "method": None, "base_model": base_name, "revision": args.revision, "num_virtual_tokens": 0}
            self.send(200, {"object": "list", "data": [base] + ready, "refused": refused})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/completions":
                return self.fail(RequestError(404, f"no route POST {self.path}"))
            try:
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                except ValueError as e:
                    raise RequestError(400, f"request body is not valid JSON ({e})")
                name, rows = parse_request(body, base_name, adapters, tokenizer, context)
                results = batcher.submit(rows)
            except RequestError as e:
                return self.fail(e)
            prompt_tokens = sum(len(r["ids"]) for r in rows)
            completion_tokens = sum(len(r["ids"]) for r in results)
            self.send(200, {
                "id": f"cmpl-{time.time_ns():x}", "object": "text_completion", "created": int(time.time()), "model": name,
                "choices": [{"text": r["text"], "index": i, "logprobs": None, "finish_reason": r["finish_reason"]} for i, r in enumerate(results)],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
            })

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    ready, refused = adapters.listing()
    print(json.dumps({"listening": f"http://{args.host}:{server.server_address[1]}", "model": base_name, "adapters": [a["id"] for a in ready], "refused": refused}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
`;
}
