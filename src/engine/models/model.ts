import type * as tf from '@tensorflow/tfjs-core';
import type { EmbeddingTable } from './embedding-table.ts';

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
   * (1 = real token). Positions continue from the cache: past .. past + T - 1.
   */
  forward(embeds: tf.Tensor3D, attentionMask: number[][], options?: ForwardOptions): ForwardOutput;
  /** The LM head matrix [vocab, H] (the embeddings themselves when tied). */
  readonly head: EmbeddingTable;
  /** LM head on hidden states [N, H] → [N, vocab]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D;
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
