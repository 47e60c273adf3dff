// issue 10 item 5: on a WebGPU device created with the spec-minimum limits
// (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB: requestDevice() without
// requiredLimits gives exactly those), a bloomz-560m-shaped model with F16 weights (the full
// 250,880 x 1,024 embedding, ?layers= of its 24 blocks) builds and runs the training step's
// forward and backward pass; the loss and the prompt's gradient are compared with WASM on the
// same weights. Publishes window.__limitsCheck.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { WeightStore } from '../../src/engine/io/checkpoint.ts';
import type { RawTensor } from '../../src/engine/io/safetensors.ts';
import { maxBufferBytes } from '../../src/engine/device-limits.ts';
import { widenInto } from '../../src/engine/kernels/unpack16.ts';
import { replaceWasmKernels } from '../../src/engine/kernels/wasm-replacements.ts';
import { buildBloom } from '../../src/engine/models/bloom.ts';
import { lossAndGradient } from '../../src/engine/prompt/prompted.ts';

const params = new URLSearchParams(location.search);
const layers = Number(params.get('layers') ?? 2);
// bigscience/bloomz-560m's config.json, with fewer layers.
const CONFIG = { model_type: 'bloom', hidden_size: 1024, n_head: 16, n_layer: layers, vocab_size: 250880, layer_norm_epsilon: 1e-5, bos_token_id: 1, eos_token_id: 2, pad_token_id: 3 };
const H = 1024;

const log = (s: string) => {
  (document.getElementById('log') as HTMLElement).textContent += `\n${s}`;
  console.log(s);
};

/** Every tensor BloomForCausalLM stores, as F16: matrices ~ ±0.035 uniform (seeded), norm weights 1, biases 0. */
function bloomStore(): WeightStore {
  const shapes = new Map<string, number[]>([
    ['word_embeddings.weight', [250880, H]],
    ['word_embeddings_layernorm.weight', [H]],
    ['word_embeddings_layernorm.bias', [H]],
    ['ln_f.weight', [H]],
    ['ln_f.bias', [H]],
  ]);
  for (let i = 0; i < layers; i++) {
    const p = `h.${i}.`;
    for (const n of ['input_layernorm', 'post_attention_layernorm']) for (const k of ['weight', 'bias']) shapes.set(`${p}${n}.${k}`, [H]);
    shapes.set(p + 'self_attention.query_key_value.weight', [3 * H, H]).set(p + 'self_attention.query_key_value.bias', [3 * H]);
    shapes.set(p + 'self_attention.dense.weight', [H, H]).set(p + 'self_attention.dense.bias', [H]);
    shapes.set(p + 'mlp.dense_h_to_4h.weight', [4 * H, H]).set(p + 'mlp.dense_h_to_4h.bias', [4 * H]);
    shapes.set(p + 'mlp.dense_4h_to_h.weight', [H, 4 * H]).set(p + 'mlp.dense_4h_to_h.bias', [H]);
  }
  const raw = (name: string): RawTensor => {
    const shape = shapes.get(name) as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const halves = new Uint16Array(n);
    if (shape.length === 1) halves.fill(name.endsWith('weight') ? 0x3c00 : 0);
    else {
      // F16 with exponent 2^-6..2^-5 and a random mantissa and sign: |v| in [0.0156, 0.031).
      let s = [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
      for (let i = 0; i < n; i++) {
        s = (s * 1664525 + 1013904223) >>> 0;
        halves[i] = ((s >>> 31) << 15) | ((9 + ((s >>> 30) & 1)) << 10) | ((s >>> 10) & 0x3ff);
      }
    }
    return { dtype: 'F16', shape, bytes: new Uint8Array(halves.buffer) };
  };
  return {
    names: () => [...shapes.keys()],
    has: (name) => shapes.has(name),
    shape: (name) => shapes.get(name) as number[],
    raw,
    get: (name) => {
      const { shape, bytes } = raw(name);
      const data = new Float32Array(bytes.byteLength / 2);
      widenInto(new Uint16Array(bytes.buffer), data, false);
      return { shape, data };
    },
    release: () => {},
  };
}

async function step(): Promise<{ loss: number; grad: Float32Array; chunks: number; chunkBytes: number; weightBytes: number; seconds: number }> {
  const tb = performance.now();
  const model = buildBloom(CONFIG, bloomStore());
  log(`${tf.getBackend()}: built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
  try {
    const t0 = performance.now();
    // Two virtual tokens, three real ones (ids from all four embedding chunks), loss on the last two.
    const prompt = tf.tensor2d(
      Float32Array.from({ length: 2 * H }, (_, i) => Math.sin(i) * 0.02),
      [2, H],
    );
    const batch = { inputIds: [[5, 131000, 250000]], attentionMask: [[1, 1, 1]], labels: [[-100, 70000, 200000]] };
    const { loss, grad } = lossAndGradient(model, prompt, batch);
    const result = { loss: (await loss.data())[0], grad: (await grad.data()) as Float32Array };
    tf.dispose([prompt, loss, grad]);
    const chunks = model.embeddings.chunks;
    return { ...result, chunks: chunks.length, chunkBytes: Math.max(...chunks.map((c) => c.bytes)), weightBytes: model.weightBytes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  // A WebGPU backend on a device with the default (spec-minimum) limits, in place of tfjs's, which asks for the adapter's.
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    return new WebGPUBackend(await adapter.requestDevice());
  });
  if (!(await tf.setBackend('webgpu'))) throw new Error('WebGPU did not start');
  const limits = (tf.backend() as unknown as WebGPUBackend).device.limits;
  log(`device limits: maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}; engine chunk cap ${maxBufferBytes()}`);
  const webgpu = await step();
  log(`webgpu: loss ${webgpu.loss}, ${webgpu.chunks} chunks of at most ${webgpu.chunkBytes} bytes, ${webgpu.seconds.toFixed(1)} s`);
  setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd });
  replaceWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('WASM did not start');
  const wasm = await step();
  log(`wasm: loss ${wasm.loss}, ${wasm.seconds.toFixed(1)} s`);
  let gradErr = 0;
  let gradScale = 1;
  let gradNorm = 0;
  for (let i = 0; i < wasm.grad.length; i++) {
    gradErr = Math.max(gradErr, Math.abs(webgpu.grad[i] - wasm.grad[i]));
    gradScale = Math.max(gradScale, Math.abs(wasm.grad[i]));
    gradNorm += wasm.grad[i] ** 2;
  }
  (window as unknown as { __limitsCheck: unknown }).__limitsCheck = {
    limits: { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize },
    chunkCap: maxBufferBytes(),
    webgpu: { loss: webgpu.loss, chunks: webgpu.chunks, chunkBytes: webgpu.chunkBytes, weightBytes: webgpu.weightBytes, seconds: webgpu.seconds },
    wasm: { loss: wasm.loss, seconds: wasm.seconds },
    grad: { err: gradErr, scale: gradScale, norm: Math.sqrt(gradNorm) },
  };
}

main().catch((e: Error) => {
  (window as unknown as { __limitsCheckError: string }).__limitsCheckError = `${e.message}\n${e.stack}`;
  log(`error: ${e.message}`);
});
