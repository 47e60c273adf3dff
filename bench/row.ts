// One benchmark row, the same on every platform: build the model (real folder or random
// weights with a real checkpoint's shapes), measure the backend's matmul ceiling, time the step.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../src/engine/models/model.ts';
import { buildModel } from '../src/engine/models/registry.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { BENCH_SHAPES } from './shapes.ts';
import { benchMethod, benchStep, matmulCeiling, nonEmbeddingParams, wasmHeapMB, type StepBenchOptions } from './step-bench.ts';

export interface BenchRow {
  platform: string;
  backend: string;
  model: string;
  /** The tuning method the step trains (prompt, prefix, p_tuning, lora). */
  method: string;
  /** Its trainable values. */
  trainable: number;
  params: number;
  nonEmbeddingParams: number;
  batch: number;
  seq: number;
  virtualTokens: number;
  labelTokens: number;
  medianStepMs: number;
  tokensPerSecond: number;
  stepGflops: number;
  matmulGflops: number;
  /** The ceiling measured before and after the steps; matmulGflops is their mean. */
  matmulGflopsBeforeAfter: [number, number];
  matmulShape: [number, number, number];
  mfu: number;
  /** Step and ceiling in useful FLOPs per CPU second (Node), and their ratio: MFU independent of the CPU share the process got. */
  cpuGflops: number | null;
  matmulCpuGflops: number | null;
  mfuCpu: number | null;
  /** tfjs's peak tensor bytes in a profiled step (null when not profiled). */
  peakMB: number | null;
  numTensorsFlat: boolean | null;
  loadSeconds: number;
  /** Bytes the model's tensors hold on the backend after the load (its weight memory). */
  weightMB: number;
  /** Size of the checkpoint's weights files, for real checkpoints. */
  fileMB: number | null;
  /** The WASM heap after the timed steps (it never shrinks, so this is its high-water mark; WASM caps it at 4 GB). */
  heapMB: number | null;
}

export async function runRow(
  platform: string,
  model: string,
  o: StepBenchOptions,
  load?: () => Promise<CausalLM>,
  log: (s: string) => void = () => {},
  fileBytes: number | null = null,
): Promise<BenchRow> {
  const ceiling = await matmulCeiling();
  log(`matmul ceiling ${ceiling.gflops.toFixed(1)} GFLOP/s at ${ceiling.shape.join('x')}`);
  const bytesBefore = tf.memory().numBytes;
  const t0 = performance.now();
  let lm: CausalLM;
  if (load) lm = await load();
  else {
    const shape = BENCH_SHAPES[model];
    if (!shape) throw new Error(`unknown benchmark shape ${model} (known: ${Object.keys(BENCH_SHAPES).join(', ')})`);
    lm = buildModel(shape, new RandomWeights(1));
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const weightMB = (tf.memory().numBytes - bytesBefore) / 2 ** 20;
  log(`model ready in ${loadSeconds.toFixed(1)} s, weight memory ${weightMB.toFixed(0)} MB, heap ${wasmHeapMB()?.toFixed(0) ?? 'n/a'} MB`);
  const r = await benchStep(lm, o, log);
  // Measured again after the steps: on a shared machine the load changes during a long step, and
  // the mean of the two brackets it (both are kept in the row).
  const after = await matmulCeiling();
  log(`matmul ceiling after the steps ${after.gflops.toFixed(1)} GFLOP/s at ${after.shape.join('x')}`);
  const ceilingGflops = (ceiling.gflops + after.gflops) / 2;
  const row: BenchRow = {
    platform,
    backend: tf.getBackend(),
    model,
    method: benchMethod(o).method,
    trainable: r.trainable,
    params: lm.parameterCount,
    nonEmbeddingParams: nonEmbeddingParams(lm),
    batch: o.batch,
    seq: o.seq,
    virtualTokens: r.virtualTokens,
    labelTokens: o.labelTokens,
    medianStepMs: r.medianStepMs,
    tokensPerSecond: r.tokensPerSecond,
    stepGflops: r.gflops,
    matmulGflops: ceilingGflops,
    matmulGflopsBeforeAfter: [ceiling.gflops, after.gflops],
    matmulShape: ceiling.shape,
    mfu: r.gflops / ceilingGflops,
    cpuGflops: r.cpuGflops,
    matmulCpuGflops: ceiling.cpuGflops === null ? null : Math.max(ceiling.cpuGflops, after.cpuGflops ?? 0),
    mfuCpu: r.cpuGflops !== null && ceiling.cpuGflops ? r.cpuGflops / Math.max(ceiling.cpuGflops, after.cpuGflops ?? 0) : null,
    peakMB: r.peakBytes === null ? null : r.peakBytes / 2 ** 20,
    numTensorsFlat: r.numTensorsFlat,
    loadSeconds,
    weightMB,
    fileMB: fileBytes === null ? null : fileBytes / 2 ** 20,
    heapMB: wasmHeapMB(),
  };
  lm.dispose();
  return row;
}
