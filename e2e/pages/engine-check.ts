// Runs the fixture cases (forward logits, loss, prompt gradient, 3 AdamW steps, greedy ids)
// through the engine in the browser on ?backend=webgpu|wasm|cpu and publishes the max errors
// on window.__engineCheck, for e2e/engine-backends.e2e.test.ts to assert on.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/worker/backend.ts';
import type { BackendName } from '../../src/worker/protocol.ts';
import { setMaxBufferBytes } from '../../src/engine/device-limits.ts';
import { parseSafetensors } from '../../src/engine/io/safetensors.ts';
import { UrlFolderSource } from '../../src/engine/io/url-source.ts';
import type { ModelSource } from '../../src/engine/io/source.ts';
import { initSoftPrompt } from '../../src/engine/prompt/init.ts';
import { generate } from '../../src/engine/generate.ts';
import { mixedGenerate } from '../../src/engine/serve/mixed-batch.ts';
import { loadModel } from '../../src/engine/load.ts';
import { batchFromJson } from '../../src/engine/prompt/batch.ts';
import { lossAndGradient, promptForward } from '../../src/engine/prompt/prompted.ts';
import { PromptTrainer, type StepEvent } from '../../src/engine/train/trainer.ts';
import { buildModel } from '../../src/engine/models/registry.ts';
import { RandomWeights } from '../../src/engine/models/random-weights.ts';
import { Dropout } from '../../src/engine/ops/dropout.ts';

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
  const jsonRes = await fetch(`${root}/${name}/cases/${kind}/case.json`);
  if (!jsonRes.ok) return null;
  const json = await jsonRes.json();
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
  /** Rows of one mixed-adapter batch (different soft prompts, lengths, none) against each row alone. */
  mixed: { got: number[][]; want: number[][] };
  numTensorsAfterTrainFlat: boolean;
  /** The same forward checks with left padding, where the fixture has that case. */
  left?: { logits: { err: number; scale: number }; loss: { got: number; want: number }; grad: { err: number; scale: number } };
  /** TEXT init: ids and embeddings exactly equal (init-text-short and init-text-long). */
  init: { idsEqual: boolean; err: number }[];
  /** Bytes the weights hold on the device, and whether every embedding chunk is packed 16-bit data. */
  weightBytes: number;
  packed: boolean;
}

/**
 * A fixture folder; `name@t4` reads config.t4.json as config.json (the family fixtures' same
 * model in the transformers-4 config layout).
 */
function fixtureSource(name: string): { folder: string; source: ModelSource } {
  const [folder, layout] = name.split('@');
  const inner = new UrlFolderSource(folder.split('/').at(-1)!, `${location.origin}${root}/${folder}`);
  if (!layout) return { folder, source: inner };
  const configFile = `config.${layout}.json`;
  return {
    folder,
    source: {
      kind: inner.kind,
      id: inner.id,
      revision: inner.revision,
      resolvedRevision: () => inner.resolvedRevision(),
      tryRead: (file, p) => inner.tryRead(file === 'config.json' ? configFile : file, p),
      tryOpen: (file, p) => inner.tryOpen(file === 'config.json' ? configFile : file, p),
    },
  };
}

async function forwardCheck(lm: Awaited<ReturnType<typeof loadModel>>, fwd: NonNullable<Awaited<ReturnType<typeof fixture>>>) {
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
  return result;
}

async function checkModel(modelName: string): Promise<ModelCheck> {
  const { folder: name, source } = fixtureSource(modelName);
  const lm = await loadModel(source);
  const weights = { weightBytes: lm.model.weightBytes, packed: lm.model.embeddings.chunks.every((c) => c.packed) };
  const fwd = (await fixture(name, 'forward'))!;
  const result = await forwardCheck(lm, fwd);
  const pe = fwd.expected.get('prompt_embeddings');
  const leftFixture = await fixture(name, 'forward-left');
  const left = leftFixture ? await forwardCheck(lm, leftFixture) : undefined;
  const init: ModelCheck['init'] = [];
  // The 16-bit fixtures hold forward, train and greedy cases only (their init equals the float32 model's).
  for (const kind of ['init-text-short', 'init-text-long']) {
    const f = await fixture(name, kind);
    if (!f) continue;
    const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: f.json.init.text, numVirtualTokens: f.json.num_virtual_tokens });
    init.push({ idsEqual: JSON.stringify(p.initIds) === JSON.stringify(f.json.init.ids), err: maxDiff(p.values, f.expected.get('prompt_embeddings').data).err });
  }

  const tr = (await fixture(name, 'train'))!;
  const t = tr.json.train;
  const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
  const trainer = new PromptTrainer(
    lm.model,
    tr.expected.get('prompt_embeddings').data,
    tr.json.num_virtual_tokens,
    { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] },
    {
      lr: t.lr,
      weightDecay: t.weight_decay,
      betas: t.betas,
      eps: t.eps,
      warmupSteps: t.num_warmup_steps,
    },
  );
  const counts: number[] = [];
  await trainer.run((e) => e.type === 'step' && (e as StepEvent).step >= 2 && counts.push(tf.memory().numTensors));
  const trained = maxDiff(await trainer.promptValues(), tr.expected.get('prompt_embeddings_after').data);
  trainer.dispose();

  const gr = (await fixture(name, 'greedy'))!;
  const gp = gr.expected.get('prompt_embeddings');
  const gPrompt = tf.tensor2d(gp.data, gp.shape as [number, number]);
  const g = gr.json.greedy;
  const ids = await generate(lm.model, gPrompt, g.prompt_ids, { maxNewTokens: g.max_new_tokens, greedy: true });
  // Per-row positions (the RoPE kernels' per-row tables, GPT-2's learned positions) on this backend.
  const fPrompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
  const options = { maxNewTokens: 4, greedy: true };
  const rows = [
    { prompt: gPrompt, inputIds: g.prompt_ids as number[], options },
    { prompt: null, inputIds: (g.prompt_ids as number[]).slice(0, 2), options },
    { prompt: fPrompt, inputIds: [...g.prompt_ids, ...g.prompt_ids] as number[], options },
  ];
  const mixed = { got: await mixedGenerate(lm.model, rows), want: [] as number[][] };
  for (const r of rows) mixed.want.push(await generate(lm.model, r.prompt, r.inputIds, options));
  fPrompt.dispose();
  gPrompt.dispose();
  lm.dispose();
  return { model: modelName, ...result, ...weights, left, init, trained, greedy: { got: ids, want: g.output_ids }, mixed, numTensorsAfterTrainFlat: counts.length === 2 && counts[0] === counts[1] };
}

export interface DropoutCheck {
  variant: string;
  /** Hand-written block gradient with dropout on this backend against CPU autodiff with the same masks. */
  err: number;
  scale: number;
  /** The same against the gradient without dropout (must be far off: the masks matter). */
  errWithoutMasks: number;
}

const DROPOUT_VARIANTS: Record<string, Record<string, unknown>> = {
  gpt2: { model_type: 'gpt2', n_embd: 24, n_layer: 2, n_head: 2, n_positions: 64, vocab_size: 50, embd_pdrop: 0.2, attn_pdrop: 0.3, resid_pdrop: 0.25 },
  bloom: { model_type: 'bloom', hidden_size: 24, n_layer: 2, n_head: 3, vocab_size: 50, attention_dropout: 0.3, hidden_dropout: 0.2 },
  llama: { model_type: 'llama', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 48, vocab_size: 50, attention_dropout: 0.3 },
};

/** Training-mode dropout through the blocks' backward passes on this backend (fused kernels included). */
async function checkDropout(variant: string): Promise<DropoutCheck> {
  const home = tf.getBackend();
  // Each backend builds its own copy (seeded weights and inputs), so no tensor crosses backends.
  const gradients = async (backend: string, runs: [useCache: boolean, drop: boolean][]) => {
    await tf.setBackend(backend);
    const model = buildModel(DROPOUT_VARIANTS[variant], new RandomWeights(7));
    const H = model.config.hiddenSize;
    const mask = [
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0],
    ];
    const x = tf.randomNormal([2, 6, H], 0, 1, 'float32', 3) as tf.Tensor3D;
    const weights = tf.randomNormal([2, 6, H], 0, 1, 'float32', 4);
    const out: Float32Array[] = [];
    for (const [useCache, drop] of runs) {
      const g = tf.tidy(() =>
        tf.grad((input: tf.Tensor) => tf.sum(tf.mul(model.forward(input as tf.Tensor3D, mask, { useCache, dropout: drop ? new Dropout(11, 4) : undefined }).hidden, weights)))(x),
      );
      out.push((await g.data()) as Float32Array);
      g.dispose();
    }
    tf.dispose([x, weights]);
    model.dispose();
    return out;
  };
  // Autodiff of the plain forward pass needs tfjs ops throughout, so it runs on the CPU backend.
  const [auto] = await gradients('cpu', [[true, true]]);
  const [hand, plain] = await gradients(home, [
    [false, true],
    [false, false],
  ]);
  return { variant, ...maxDiff(hand, auto), errWithoutMasks: maxDiff(plain, auto).err };
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
  const dropout: DropoutCheck[] = [];
  for (const v of Object.keys(DROPOUT_VARIANTS)) {
    dropout.push(await checkDropout(v));
    log(`dropout ${v}: ${JSON.stringify(dropout.at(-1))}`);
  }
  (window as unknown as { __engineCheck: unknown }).__engineCheck = { backend: tf.getBackend(), checks, dropout };
}

main().catch((e: Error) => {
  (window as unknown as { __engineCheckError: string }).__engineCheckError = `${e.message}\n${e.stack}`;
  log(`error: ${e.message}`);
});
