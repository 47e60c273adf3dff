// config.json of the real checkpoints the benchmark mimics (random weights, exact shapes).
export const BENCH_SHAPES: Record<string, Record<string, unknown>> = {
  // torch_step.py's 'tiny' (1.6M parameters): a quick check of the whole pipeline.
  tiny: {
    model_type: 'llama', hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 4,
    intermediate_size: 512, vocab_size: 4096, max_position_embeddings: 512, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
  },
  'gpt2-124m': {
    model_type: 'gpt2', n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, vocab_size: 50257,
    activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 50256, eos_token_id: 50256,
  },
  'smollm2-135m': {
    model_type: 'llama', hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3,
    intermediate_size: 1536, vocab_size: 49152, max_position_embeddings: 8192, rope_theta: 100000, rms_norm_eps: 1e-5,
    tie_word_embeddings: true, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 0,
  },
  'bloomz-560m': {
    model_type: 'bloom', hidden_size: 1024, n_layer: 24, n_head: 16, vocab_size: 250880, layer_norm_epsilon: 1e-5,
    bos_token_id: 1, eos_token_id: 2, pad_token_id: 3,
  },
};
