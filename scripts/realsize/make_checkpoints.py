"""Random-weight checkpoints with the exact configs and dtypes of real Hub repos, in the Hub's file
layout, for the real-size benchmark rows (bench/) and the 16-bit e2e test.

  /work/.venv-ref/bin/python scripts/realsize/make_checkpoints.py [OUT] [--only NAME,...]

OUT defaults to /work/big/realsize; each checkpoint lands in OUT/<name>/ (config.json,
model.safetensors via save_pretrained in the checkpoint's own dtype, tokenizer.json,
tokenizer_config.json). The large ones are never committed. `--tiny OUT` writes the small BF16 and
F16 models the e2e test loads (test/fixtures/tiny-bf16-smollm2, tiny-f16-bloomz): committed.

The weights are random (torch.manual_seed(0), transformers' own init); the configs are those of
HuggingFaceTB/SmolLM2-135M, Qwen/Qwen2.5-0.5B and bigscience/bloomz-560m as published. The real
tokenizer.json files cannot be downloaded here, so each tokenizer is a byte-level BPE built with
`tokenizers` the way the real one is (same pre-tokenizer, normalizer, decoder and special tokens
at their real ids), trained on local text; the merges it learns stop short of the real vocabulary,
so the rest of the ids up to the real vocabulary size are filler tokens (`<|fill_N|>`) that the
model has rows for but the tokenizer never produces. Token ids therefore differ from the real
tokenizers'; sizes (vocabulary, embedding rows, file size) do not.
"""
import glob, json, os, sys, time
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BloomConfig, BloomForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

# config.json of each repo, field for field (transformers writes the rest with its defaults).
SMOLLM2_135M = dict(
    architectures=['LlamaForCausalLM'], attention_bias=False, attention_dropout=0.0, bos_token_id=0, eos_token_id=0,
    hidden_act='silu', hidden_size=576, initializer_range=0.041666666666666664, intermediate_size=1536, is_llama_config=True,
    max_position_embeddings=8192, model_type='llama', num_attention_heads=9, num_hidden_layers=30, num_key_value_heads=3,
    pretraining_tp=1, rms_norm_eps=1e-05, rope_interleaved=False, rope_scaling=None, rope_theta=100000, tie_word_embeddings=True,
    torch_dtype='bfloat16', use_cache=True, vocab_size=49152,
)
QWEN25_05B = dict(
    architectures=['Qwen2ForCausalLM'], attention_dropout=0.0, bos_token_id=151643, eos_token_id=151643, hidden_act='silu',
    hidden_size=896, initializer_range=0.02, intermediate_size=4864, max_position_embeddings=32768, max_window_layers=24,
    model_type='qwen2', num_attention_heads=14, num_hidden_layers=24, num_key_value_heads=2, rms_norm_eps=1e-06,
    rope_theta=1000000.0, sliding_window=32768, tie_word_embeddings=True, torch_dtype='bfloat16', use_cache=True,
    use_sliding_window=False, vocab_size=151936,
)
BLOOMZ_560M = dict(
    apply_residual_connection_post_layernorm=False, architectures=['BloomForCausalLM'], attention_dropout=0.0,
    attention_softmax_in_fp32=True, bias_dropout_fusion=True, bos_token_id=1, eos_token_id=2, hidden_dropout=0.0,
    hidden_size=1024, initializer_range=0.02, layer_norm_epsilon=1e-05, masked_softmax_fusion=True, model_type='bloom',
    n_head=16, n_inner=None, n_layer=24, offset_alibi=100, pad_token_id=3, pretraining_tp=1, skip_bias_add=True,
    skip_bias_add_qkv=False, slow_but_exact=False, torch_dtype='float16', unk_token_id=0, use_cache=True, vocab_size=250880,
)

# GPT-2's and Qwen2's pre-tokenizer regexes (SmolLM2 uses ByteLevel's built-in GPT-2 regex).
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
BLOOM_SPLIT = r""" ?[^(\s|[.,!?…。，、।۔،])]+"""

SMOL_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<repo_name>', '<reponame>', '<file_sep>', '<filename>', '<gh_stars>', '<issue_start>', '<issue_comment>', '<issue_closed>', '<jupyter_start>', '<jupyter_text>', '<jupyter_code>', '<jupyter_output>', '<jupyter_script>', '<empty_output>']
QWEN_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>', '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>']
BLOOM_SPECIALS = ['<unk>', '<s>', '</s>', '<pad>']


def corpus(limit_bytes=24 << 20):
    """Local English-ish text to learn merges from: Python's stdlib sources and Debian's docs."""
    files = sorted(glob.glob('/usr/lib/python3*/**/*.py', recursive=True)) + sorted(glob.glob('/usr/share/doc/**/*.txt', recursive=True))
    total = 0
    for f in files:
        try:
            text = open(f, encoding='utf-8').read()
        except (UnicodeDecodeError, OSError):
            continue
        total += len(text)
        yield text
        if total > limit_bytes:
            return


def byte_level_bpe(kind, vocab_size, specials, special_at_end, corpus_bytes):
    """A byte-level BPE as the real repo builds it, with exactly `vocab_size` ids (filler tokens pad the learned vocabulary)."""
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    if kind == 'qwen2':
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior='isolated', invert=False), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif kind == 'bloom':
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(BLOOM_SPLIT), behavior='isolated', invert=False), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    learned = vocab_size - len(specials)
    trainer = trainers.BpeTrainer(vocab_size=learned, min_frequency=2, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[] if special_at_end else specials)
    tok.train_from_iterator(corpus(corpus_bytes), trainer=trainer)
    spec = json.loads(tok.to_str())
    vocab = spec['model']['vocab']
    # Filler ids up to the real size, before the specials when those sit at the end (Qwen2).
    fill = learned + (0 if special_at_end else len(specials)) - len(vocab)
    base = len(vocab)
    for i in range(fill):
        vocab[f'<|fill_{i}|>'] = base + i
    if special_at_end:
        start = len(vocab)
        spec['added_tokens'] = [dict(id=start + i, content=s, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True) for i, s in enumerate(specials)]
    else:
        spec['added_tokens'] = [dict(id=vocab[s], content=s, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True) for s in specials]
    tok = Tokenizer.from_str(json.dumps(spec))
    assert tok.get_vocab_size(with_added_tokens=True) == vocab_size, (tok.get_vocab_size(with_added_tokens=True), vocab_size)
    return tok, fill


def save_tokenizer(tok, out, tokenizer_class, **special):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **special)
    fast.save_pretrained(out)
    path = os.path.join(out, 'tokenizer_config.json')
    cfg = json.load(open(path))
    cfg['tokenizer_class'] = tokenizer_class
    json.dump(cfg, open(path, 'w'), indent=2)


REPOS = {
    # name: (config class, model class, config, dtype, tokenizer kind, specials, specials at the end, tokenizer class, special tokens)
    'SmolLM2-135M': (LlamaConfig, LlamaForCausalLM, SMOLLM2_135M, torch.bfloat16, 'gpt2', SMOL_SPECIALS, False, 'GPT2Tokenizer', dict(bos_token='<|endoftext|>', eos_token='<|endoftext|>', unk_token='<|endoftext|>', model_max_length=8192)),
    'Qwen2.5-0.5B': (Qwen2Config, Qwen2ForCausalLM, QWEN25_05B, torch.bfloat16, 'qwen2', QWEN_SPECIALS, True, 'Qwen2Tokenizer', dict(eos_token='<|endoftext|>', pad_token='<|endoftext|>', model_max_length=131072)),
    'bloomz-560m': (BloomConfig, BloomForCausalLM, BLOOMZ_560M, torch.float16, 'bloom', BLOOM_SPECIALS, False, 'BloomTokenizerFast', dict(bos_token='<s>', eos_token='</s>', unk_token='<unk>', pad_token='<pad>', padding_side='left')),
}

# The e2e test's small 16-bit models: the same families and dtypes, tiny sizes (committed).
TINY = {
    'tiny-bf16-smollm2': (LlamaConfig, LlamaForCausalLM, dict(SMOLLM2_135M, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, vocab_size=1024, max_position_embeddings=512, initializer_range=0.02), torch.bfloat16, 'gpt2', SMOL_SPECIALS, False, 'GPT2Tokenizer', dict(bos_token='<|endoftext|>', eos_token='<|endoftext|>', unk_token='<|endoftext|>', model_max_length=512)),
    'tiny-f16-bloomz': (BloomConfig, BloomForCausalLM, dict(BLOOMZ_560M, hidden_size=64, n_head=4, n_layer=2, vocab_size=1024), torch.float16, 'bloom', BLOOM_SPECIALS, False, 'BloomTokenizerFast', dict(bos_token='<s>', eos_token='</s>', unk_token='<unk>', pad_token='<pad>', padding_side='left')),
}


def make(name, spec, out, corpus_bytes):
    config_cls, model_cls, cfg, dtype, kind, specials, at_end, tok_class, special = spec
    t0 = time.time()
    torch.manual_seed(0)
    fields = {k: v for k, v in cfg.items() if k not in ('architectures', 'model_type', 'torch_dtype')}
    config = config_cls(**fields)
    config.architectures = cfg['architectures']
    model = model_cls(config).to(dtype)
    model.config.dtype = dtype
    model.save_pretrained(out, safe_serialization=True)
    del model
    # config.json as the repo publishes it (transformers 5 would rewrite rope_theta as rope_parameters).
    json.dump(cfg, open(os.path.join(out, 'config.json'), 'w'), indent=2)
    tok, fill = byte_level_bpe(kind, cfg['vocab_size'], specials, at_end, corpus_bytes)
    save_tokenizer(tok, out, tok_class, **special)
    size = os.path.getsize(os.path.join(out, 'model.safetensors'))
    print(f'{name}: {size / 1e6:.1f} MB ({dtype}), tokenizer {cfg["vocab_size"]} ids of which {fill} filler, {time.time() - t0:.0f} s -> {out}', flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == '--tiny':
        out = args[1]
        for name, spec in TINY.items():
            make(name, spec, os.path.join(out, name), 2 << 20)
        return
    out = args[0] if args and not args[0].startswith('--') else '/work/big/realsize'
    only = args[args.index('--only') + 1].split(',') if '--only' in args else list(REPOS)
    for name in only:
        make(name, REPOS[name], os.path.join(out, name), 24 << 20)


if __name__ == '__main__':
    main()
