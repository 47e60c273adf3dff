// Times a training step (forward, backward for the method's trainable tensors, AdamW) on whatever
// tfjs backend is active, and relates it to that backend's best matmul throughput. Prompt tuning
// unless `method` says otherwise (the methods' rows compare their steps on one shape).
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../src/engine/models/model.ts';
import { IGNORE_INDEX, type Batch } from '../src/engine/prompt/batch.ts';
import { Rng } from '../src/engine/random.ts';
import { Trainer } from '../src/engine/train/trainer.ts';
import { Tuning, type MethodConfig } from '../src/engine/methods/index.ts';
import { promptLoss } from '../src/engine/prompt/prompted.ts';
import { DEFAULT_METHODS } from '../src/engine/run/spec.ts';

export interface StepBenchOptions {
  batch: number;
  seq: number;
  virtualTokens: number;
  /** Label tokens at the end of each row (a label task: the label and EOS). */
  labelTokens: number;
  warmup: number;
  steps: number;
  /** Profile one extra step for tfjs's peak tensor bytes (off for the real-size rows: a whole extra step). */
  profile?: boolean;
  /** The method trained (default: prompt tuning with `virtualTokens` rows); its V replaces virtualTokens. */
  method?: MethodConfig;
}

/** The method a bench step trains: `o.method`, or prompt tuning with o.virtualTokens rows. */
export function benchMethod(o: StepBenchOptions): MethodConfig {
  return o.method ?? { method: 'prompt', numVirtualTokens: o.virtualTokens, init: 'RANDOM', initText: null };
}

/** The methods' benchmark configs by name: PEFT's defaults (LoRA r 8 on the model type's targets), the prompt methods at the bench's V. */
export function benchMethodConfig(name: string): MethodConfig {
  const V = DEFAULT_STEP_BENCH.virtualTokens;
  switch (name) {
    case 'prompt':
      return { method: 'prompt', numVirtualTokens: V, init: 'RANDOM', initText: null };
    case 'prefix':
      return { ...DEFAULT_METHODS.prefix, numVirtualTokens: V };
    case 'p_tuning':
      return { ...DEFAULT_METHODS.p_tuning, numVirtualTokens: V };
    case 'lora':
      return DEFAULT_METHODS.lora;
    default:
      throw new Error(`unknown method ${name} (prompt, prefix, p_tuning, lora)`);
  }
}

export const DEFAULT_STEP_BENCH: StepBenchOptions = { batch: 8, seq: 64, virtualTokens: 20, labelTokens: 4, warmup: 2, steps: 5 };

export interface StepBenchResult {
  medianStepMs: number;
  stepMs: number[];
  tokensPerSecond: number;
  /** The method's trainable values, and the rows it prepends. */
  trainable: number;
  virtualTokens: number;
  /** Useful FLOPs of one step: 4 x non-embedding params x tokens + 4 x H x vocab x label positions. */
  usefulFlops: number;
  gflops: number;
  peakBytes: number | null;
  /** numTensors equal after the warm-up and after the last step (null with no warm-up step to compare against). */
  numTensorsFlat: boolean | null;
  numTensors: [number, number];
  /** Useful FLOPs per CPU second of the timed steps (null where CPU time is not available). */
  cpuGflops: number | null;
}

/** Current size of the WASM backend's heap, or null on other backends. */
export function wasmHeapMB(): number | null {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? heap.length / 2 ** 20 : null;
}

/**
 * CPU seconds this process has used (Node: every thread, WASM's included), or null in a page. On a
 * shared machine wall-clock rates measure the CPU share a process got as much as its code; the
 * ratio of CPU-time rates (the step's against the matmul ceiling's) does not depend on the share.
 */
export function cpuSeconds(): number | null {
  const usage = (globalThis as { process?: { cpuUsage?(): { user: number; system: number } } }).process?.cpuUsage?.();
  return usage ? (usage.user + usage.system) / 1e6 : null;
}

export function nonEmbeddingParams(model: CausalLM): number {
  const { vocabSize, hiddenSize, tieWordEmbeddings } = model.config;
  const embeddings = vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2);
  return model.parameterCount - embeddings;
}

export function benchBatch(vocab: number, o: StepBenchOptions, seed = 0): Batch {
  const rng = new Rng(seed);
  const ids = Array.from({ length: o.batch }, () => Array.from({ length: o.seq }, () => rng.int(vocab)));
  return {
    inputIds: ids,
    attentionMask: ids.map((r) => r.map(() => 1)),
    labels: ids.map((r) => r.map((id, t) => (t >= o.seq - o.labelTokens ? id : IGNORE_INDEX))),
  };
}

export async function benchStep(model: CausalLM, o: StepBenchOptions = DEFAULT_STEP_BENCH, log: (s: string) => void = () => {}): Promise<StepBenchResult> {
  const H = model.config.hiddenSize;
  const batch = benchBatch(model.config.vocabSize, o);
  const tuning = new Tuning(model, benchMethod(o));
  // Small non-zero values everywhere (LoRA's B included, so its whole delta path computes as in training).
  const initial = new Float32Array(tuning.size).map(() => 0.02);
  const trainer = new Trainer(
    model,
    tuning,
    initial,
    { epochs: 1, stepsPerEpoch: o.warmup + o.steps, batchesForEpoch: () => new Array(o.warmup + o.steps).fill(batch), valBatches: [] },
    { syncEvery: 1 },
  );
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const counts: number[] = [];
  let last = performance.now();
  let lastCpu = cpuSeconds();
  await trainer.run((e) => {
    if (e.type !== 'step') return;
    const now = performance.now();
    log(`step ${e.step}: ${(now - last).toFixed(0)} ms, heap ${wasmHeapMB()?.toFixed(0) ?? 'n/a'} MB`);
    const cpu = cpuSeconds();
    if (e.step > o.warmup) times.push(now - last);
    if (e.step > o.warmup && cpu !== null && lastCpu !== null) cpuTimes.push(cpu - lastCpu);
    lastCpu = cpu;
    if (e.step === o.warmup || e.step === o.warmup + o.steps) counts.push(tf.memory().numTensors);
    last = now;
  });
  // One extra, profiled step for peak memory (profiling perturbs timing, so it is not timed).
  let peakBytes: number | null = null;
  if (o.profile !== false) {
    const values = tf.variable(tf.tensor1d(initial));
    const profile = await tf.profile(() => {
      const { value, grad } = tf.valueAndGrad((v: tf.Tensor) => promptLoss(model, tuning.inject(v as tf.Tensor1D), batch))(values);
      return [value, grad];
    });
    values.dispose();
    peakBytes = profile.peakBytes;
  }
  trainer.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const tokens = o.batch * (o.seq + tuning.virtualTokens);
  const usefulFlops = 4 * nonEmbeddingParams(model) * tokens + 4 * H * model.config.vocabSize * o.batch * o.labelTokens;
  return {
    trainable: tuning.size,
    virtualTokens: tuning.virtualTokens,
    medianStepMs: median,
    stepMs: times,
    tokensPerSecond: tokens / (median / 1000),
    usefulFlops,
    gflops: usefulFlops / (median / 1000) / 1e9,
    peakBytes,
    numTensorsFlat: counts.length === 2 ? counts[0] === counts[1] : null,
    numTensors: [counts[0], counts[1]],
    cpuGflops: cpuTimes.length ? usefulFlops / ([...cpuTimes].sort((a, b) => a - b)[Math.floor(cpuTimes.length / 2)] * 1e9) : null,
  };
}

/** Best matmul throughput of the active backend, in GFLOP/s, over square and model-like shapes. */
export async function matmulCeiling(
  shapes: [number, number, number][] = [
    [512, 512, 512],
    [1024, 1024, 1024],
    [672, 576, 1536],
    [2048, 1024, 1024],
  ],
  reps = 3,
): Promise<{ gflops: number; shape: [number, number, number]; cpuGflops: number | null }> {
  let best = { gflops: 0, shape: shapes[0] };
  let bestCpu: number | null = null;
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    await tf.matMul(a, b).data(); // warm-up (kernel compile / weight packing)
    const cpu0 = cpuSeconds();
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      const s = (performance.now() - t0) / 1000;
      c.dispose();
      const g = (2 * m * k * n) / s / 1e9;
      if (g > best.gflops) best = { gflops: g, shape: [m, k, n] };
    }
    const cpu1 = cpuSeconds();
    if (cpu0 !== null && cpu1 !== null && cpu1 > cpu0) bestCpu = Math.max(bestCpu ?? 0, (2 * m * k * n * reps) / (cpu1 - cpu0) / 1e9);
    tf.dispose([a, b]);
  }
  return { ...best, cpuGflops: bestCpu };
}
