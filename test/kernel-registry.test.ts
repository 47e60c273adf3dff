// The engine's own kernels are looked up per backend by name in one registry, and are off with
// a tfjs version they were not written for.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasKernel, kernelNames, setTfjsVersionForTest, TFJS_VERSION, tfjsVersionProblem } from '../src/engine/kernels/registry.ts';
import { initNodeBackend } from '../src/node/backend.ts';

beforeAll(async () => {
  await initNodeBackend();
});
afterAll(async () => {
  setTfjsVersionForTest(null);
  await tf.setBackend('wasm');
});

describe('kernel registry', () => {
  it('answers per backend, only for kernels that backend has', async () => {
    await tf.setBackend('wasm');
    expect(hasKernel('PtRmsNorm')).toBe(true);
    expect(hasKernel('PtUnpack16')).toBe(true);
    expect(hasKernel('PtMatMulPacked')).toBe(false);
    expect(hasKernel('PtNoSuchKernel')).toBe(false);
    expect(tf.getKernel('PtRmsNorm', 'wasm')).toBeDefined();
    await tf.setBackend('cpu');
    expect(hasKernel('PtRmsNorm')).toBe(false);
    expect(hasKernel('PtUnpack16')).toBe(true);
    // WebGPU has every fused and packed kernel (registered when that backend is in use).
    expect(kernelNames('webgpu')).toEqual(expect.arrayContaining(['PtRmsNorm', 'PtSwiGlu', 'PtRope', 'PtUnpack16', 'PtMatMulPacked', 'PtGatherPacked', 'PtConcatPacked']));
    expect(kernelNames('webgpu')).not.toContain('PtAttention');
  });

  it('is off, with a message naming both versions, when the installed tfjs differs', async () => {
    await tf.setBackend('wasm');
    expect(tfjsVersionProblem()).toBeNull();
    setTfjsVersionForTest('5.0.0');
    expect(tfjsVersionProblem()).toContain(`written for tfjs ${TFJS_VERSION}`);
    expect(tfjsVersionProblem()).toContain('5.0.0');
    expect(hasKernel('PtRmsNorm')).toBe(false);
    setTfjsVersionForTest(null);
    expect(hasKernel('PtRmsNorm')).toBe(true);
  });
});
