// Runs the fixture cases (forward logits, loss, prompt gradient, 3 AdamW steps, greedy ids)
// through the engine in the browser on ?backend=webgpu|wasm|cpu and publishes the max errors
// on window.__engineCheck, for e2e/engine-backends.e2e.test.ts to assert on.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/worker/backend.ts';
import type { BackendName } from '../../src/worker/protocol.ts';
import { setMaxBufferBytes } from '../../src/engine/device-limits.ts';
import { parseSafetensors } from '../../src/engine/io/safetensors.ts';
import { UrlFolderSource } from '../../src/engine/io/url-source.ts';
import { generate } from '../../src/engine/generate.ts';
import { loadModel } from '../../src/engine/load.ts';
import { batchFromJson } from '../../src/engine/prompt/batch.ts';
import { lossAndGradient, promptForward } from '../../src/engine/prompt/prompted.ts';
import { PromptTrainer, type StepEvent } from '../../src/engine/train/trainer.ts';

const params = new URLSearchParams(location.search);
const backend = params.get('backend') ?? 'webgpu';
const models = (params.get('models') ?? 'tiny-gpt2,tiny-bloom,tiny-llama,tiny-qwen2').split(',');
const maxBuffer = params.get('maxBufferBytes');
const root = '/test/fixtures';

const log = (s: string) => {
  (document.getElementById('log') as HTMLElement).textContent += `\n${s}`;
  console.log(s);
};

async function fixture(name: string, kind: string) {
  const json = await (await fetch(`${root}/${name}/cases/${kind}/case.json`)).json();
  const res = await fetch(`${root}/${name}/cases/${kind}/expected.safetensors`);
  return { json, expected: parseSafetensors(new Uint8Array(await res.arrayBuffer()), `${kind}/expected.safetensors`) };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  let err = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { err, scale };
}

export interface ModelCheck {
  model: string;
  logits: { err: number; scale: number };
  loss: { got: number; want: number };
  grad: { err: number; scale: number };
  trained: { err: number; scale: number };
  greedy: { got: number[]; want: number[] };
  numTensorsAfterTrainFlat: boolean;
  /** Bytes the weights hold on the device, and whether every embedding chunk is packed 16-bit data. */
  weightBytes: number;
  packed: boolean;
}

async function checkModel(name: string): Promise<ModelCheck> {
  const lm = await loadModel(new UrlFolderSource(name, `${location.origin}${root}/${name}`));
  const weights = { weightBytes: lm.model.weightBytes, packed: lm.model.embeddings.chunks.every((c) => c.packed) };
  const fwd = await fixture(name, 'forward');
  const pe = fwd.expected.get('prompt_embeddings');
  const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
  const batch = batchFromJson(fwd.json, 'forward');
  const { logits, loss } = promptForward(lm.model, prompt, batch);
  const { grad, loss: l2 } = lossAndGradient(lm.model, prompt, batch);
  const result = {
    logits: maxDiff(await logits.data(), fwd.expected.get('logits').data),
    loss: { got: (await (loss as tf.Scalar).data())[0], want: fwd.json.loss as number },
    grad: maxDiff(await grad.data(), fwd.expected.get('grad_prompt_embeddings').data),
  };
  tf.dispose([prompt, logits, loss as tf.Scalar, grad, l2]);

  const tr = await fixture(name, 'train');
  const t = tr.json.train;
  const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
  const trainer = new PromptTrainer(lm.model, tr.expected.get('prompt_embeddings').data, tr.json.num_virtual_tokens, { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] }, {
    lr: t.lr, weightDecay: t.weight_decay, betas: t.betas, eps: t.eps, warmupSteps: t.num_warmup_steps,
  });
  const counts: number[] = [];
  await trainer.run((e) => e.type === 'step' && (e as StepEvent).step >= 2 && counts.push(tf.memory().numTensors));
  const trained = maxDiff(await trainer.promptValues(), tr.expected.get('prompt_embeddings_after').data);
  trainer.dispose();

  const gr = await fixture(name, 'greedy');
  const gp = gr.expected.get('prompt_embeddings');
  const gPrompt = tf.tensor2d(gp.data, gp.shape as [number, number]);
  const g = gr.json.greedy;
  const ids = await generate(lm.model, gPrompt, g.prompt_ids, { maxNewTokens: g.max_new_tokens, greedy: true });
  gPrompt.dispose();
  lm.dispose();
  return { model: name, ...result, ...weights, trained, greedy: { got: ids, want: g.output_ids }, numTensorsAfterTrainFlat: counts.length === 2 && counts[0] === counts[1] };
}

async function main(): Promise<void> {
  const { info } = await initBackend(backend as BackendName);
  if (info.name !== backend) throw new Error(`backend ${backend} is not available (${info.notes.join(' ')})`);
  if (maxBuffer) setMaxBufferBytes(Number(maxBuffer));
  const checks: ModelCheck[] = [];
  for (const m of models) {
    const t0 = performance.now();
    checks.push(await checkModel(m));
    log(`${m}: ${JSON.stringify(checks.at(-1))} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  (window as unknown as { __engineCheck: unknown }).__engineCheck = { backend: tf.getBackend(), checks };
}

main().catch((e: Error) => {
  (window as unknown as { __engineCheckError: string }).__engineCheckError = `${e.message}\n${e.stack}`;
  log(`error: ${e.message}`);
});
