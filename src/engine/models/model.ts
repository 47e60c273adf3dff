import type * as tf from '@tensorflow/tfjs-core';
import type { EmbeddingTable } from './embedding-table.ts';
import type { Dropout } from '../ops/dropout.ts';
import type { LoraFactors } from '../ops/lora.ts';

/** The sizes every family shares, normalised from the family's own config.json field names. */
export interface ModelConfig {
  /** The family file that runs the model: 'gpt2' | 'llama' | 'bloom'. */
  family: string;
  /** config.json's model_type, as written. */
  modelType: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  /** Longest sequence the model accepts, virtual tokens included. */
  contextLength: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  tieWordEmbeddings: boolean;
}

/** Keys and values of all earlier positions, one entry per layer, and their attention mask. */
export interface KVCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** Mask of every cached position, [B][past]. */
  mask: number[][];
  length: number;
}

export interface ForwardOptions {
  cache?: KVCache;
  /** Return a cache extended with this call's keys and values. */
  useCache?: boolean;
  /**
   * Set for training steps only (transformers' model.train()): the config's dropout applies
   * where transformers applies it, with this step's seeded masks. Absent: no dropout (eval,
   * generation, plain forward). See ops/dropout.ts for how a family applies it.
   */
  dropout?: Dropout;
  /**
   * Position ids per row [B][T], as transformers' position_ids (default past .. past + T - 1 for
   * every row): rows of a batch decoded at different lengths (engine/serve) each continue from
   * their own length. BLOOM has none: its ALiBi comes from the attention mask, as in transformers.
   */
  positions?: number[][];
  /**
   * Prefix tuning's trainable past, per layer keys and values [B, kvHeads, P, headDim] that every
   * block attends to before the input (PEFT passes them as past_key_values): the mask then covers
   * P + T positions and positions start at P, as with a cache. Never together with `cache`.
   */
  prefix?: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] };
  /** LoRA factors per layer, by module key (`LinearModule.key`); gradients flow to them. */
  lora?: ReadonlyMap<string, LoraFactors>[];
  /**
   * Several LoRA adapters in one batch (serving, forward only): each applies to its rows of the
   * batch, as PEFT's mixed-batch inference (adapter_names) does.
   */
  mixedLora?: MixedLora[];
  /**
   * Packed sequences (serving, forward only, B = 1): several sequences share the batch's one row,
   * each new position and each cached key tagged with its sequence (`query` [T], `key` [past + T]).
   * A query sees only its own sequence's keys (causally, and where the mask allows), and a key's
   * position, for sliding windows and ALiBi, is its index among its sequence's real keys: each
   * sequence gets what it gets alone. `positions` gives the new positions' ids.
   */
  segments?: { query: number[]; key: number[] };
}

/**
 * One LoRA adapter of a mixed batch: its factors per layer and the batch rows it applies to, or in
 * a packed batch (ForwardOptions.segments) the new positions of its sequences (`tokens`).
 */
export interface MixedLora {
  layers: ReadonlyMap<string, LoraFactors>[];
  rows: number[];
  tokens?: number[];
}

/** A projection a LoRA adapter can target, as PEFT names it. */
export interface LinearModule {
  /** The module path in the transformers model (PEFT's key): model.layers.0.self_attn.q_proj. */
  path: string;
  layer: number;
  /** The path inside the layer (what the block's LoRA factors are keyed by): self_attn.q_proj, mlp.c_proj. */
  key: string;
  /** The last path component (target_modules match on it): q_proj, c_attn, query_key_value. */
  name: string;
  inFeatures: number;
  outFeatures: number;
}

export interface ForwardOutput {
  /** Final hidden states (after the last norm), [B, T, H]. */
  hidden: tf.Tensor3D;
  cache?: KVCache;
}

/**
 * The one interface every family implements. Weights are frozen tensors, never variables, so
 * gradients flow only to inputs (the soft prompt). Nothing here knows about soft prompts.
 */
export interface CausalLM {
  readonly config: ModelConfig;
  /** Token embedding rows for ids [B][T] → [B, T, H]. */
  embed(ids: number[][]): tf.Tensor3D;
  /** The token embedding matrix [vocab, H] (rows may exceed the tokenizer's vocabulary). */
  readonly embeddings: EmbeddingTable;
  /**
   * Runs the transformer over input embeddings [B, T, H]. `attentionMask` is [B][past + T]
   * (1 = real token). Positions continue from the cache: past .. past + T - 1, unless
   * `options.positions` gives them per row.
   */
  forward(embeds: tf.Tensor3D, attentionMask: number[][], options?: ForwardOptions): ForwardOutput;
  /** The LM head matrix [vocab, H] (the embeddings themselves when tied). */
  readonly head: EmbeddingTable;
  /** LM head on hidden states [N, H] → [N, vocab]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D;
  /**
   * Token embeddings are the table's rows times this (Gemma's sqrt(hidden), float32); PEFT's TEXT
   * and SAMPLE_VOCAB inits take the scaled rows (they call the embedding module). Unset: 1.
   */
  readonly embedScale?: number;
  /** `logits` are cap · tanh(scores / cap) (final_logit_softcapping); the loss uses the same. */
  readonly logitSoftcap?: number | null;
  /** Every linear projection of the blocks, layer by layer (what LoRA's target_modules choose from). */
  readonly modules: LinearModule[];
  /** Number of weights (tied matrices counted once). */
  readonly parameterCount: number;
  /** Bytes the weights hold on the device, in the checkpoint's dtype (WeightLoader.weightBytes). */
  readonly weightBytes: number;
  dispose(): void;
}

export function disposeCache(cache: KVCache | undefined): void {
  if (!cache) return;
  for (const t of cache.keys) t.dispose();
  for (const t of cache.values) t.dispose();
}
