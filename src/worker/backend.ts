// The tfjs backend of the engine worker: WebGPU when the browser has a usable adapter, else WASM
// (multi-threaded when the page is cross-origin isolated), with the plain-JS CPU backend last.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { replaceWasmKernels } from '../engine/kernels/wasm-replacements.ts';
import type { BackendInfo, BackendName, GpuAdapterFacts } from './protocol.ts';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});
replaceWasmKernels();

const SOFTWARE_ARCHITECTURES = /swiftshader|llvmpipe|lavapipe|warp|software|basic render/i;

async function gpuAdapterFacts(): Promise<{ facts: GpuAdapterFacts | null; problem: string | null }> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { facts: null, problem: 'this browser has no WebGPU (navigator.gpu is missing; Chrome/Edge 113+ have it)' };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { facts: null, problem: `WebGPU refused to give an adapter (${(e as Error).message})` };
  }
  if (!adapter) return { facts: null, problem: 'WebGPU is present but no GPU adapter is available (blocklisted driver or GPU disabled)' };
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const fallbackFlag =
    (info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const facts: GpuAdapterFacts = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallback: Boolean(fallbackFlag) || SOFTWARE_ARCHITECTURES.test(`${info?.architecture} ${info?.description} ${info?.vendor}`),
  };
  return { facts, problem: null };
}

export interface BackendHandle {
  info: BackendInfo;
  /** Resolves with a message when the WebGPU device is lost (never for other backends). */
  deviceLost: Promise<string>;
  /** Destroys the GPU device, as a driver reset would (for testing recovery). */
  loseDevice(): void;
}

/**
 * WASM threads when the page is cross-origin isolated: half the logical processors (one per
 * physical core where cores run two hyperthreads), at most 4, as onnxruntime-web's default. All
 * of them was too many: on this project's 2-CPU machine (Chromium 150, 2026-12-03) 2 threads ran
 * XNNPACK's matmul ceiling no faster than 1 (33.8 against 33.6 GFLOP/s), though two processes
 * there each get a full core, and SmolLM2-135M's step 20% slower (15.3 s against 12.7 s): every
 * parallel product waits for its slower thread, and the page's other threads share the cores.
 */
export function wasmThreads(isolated: boolean, logicalProcessors: number): number {
  return isolated ? Math.max(1, Math.min(4, Math.ceil(logicalProcessors / 2))) : 1;
}

export async function initBackend(requested: BackendName): Promise<BackendHandle> {
  const notes: string[] = [];
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  let adapter: GpuAdapterFacts | null = null;
  let name: BackendName = requested;
  if (requested === 'webgpu') {
    const { facts, problem } = await gpuAdapterFacts();
    adapter = facts;
    if (problem) {
      notes.push(`WebGPU unavailable: ${problem}. Using WASM instead.`);
      name = 'wasm';
    } else if (facts?.isFallback) {
      notes.push(`The WebGPU adapter is a software fallback (${facts.architecture || facts.description || facts.vendor || 'unknown'}): it runs on the CPU. WASM is often as fast or faster here.`);
    }
  }
  let threads: number | null = null;
  if (name === 'wasm') {
    threads = wasmThreads(isolated, navigator.hardwareConcurrency || 1);
    setThreadsCount(threads);
    if (!isolated) notes.push('The page is not cross-origin isolated, so WASM runs on one thread.');
  }
  let ok = await tf.setBackend(name).catch((e: Error) => {
    notes.push(`${name} failed to start (${e.message}).`);
    return false;
  });
  if (!ok && name !== 'wasm') {
    name = 'wasm';
    threads = wasmThreads(isolated, navigator.hardwareConcurrency || 1);
    setThreadsCount(threads);
    ok = await tf.setBackend('wasm').catch(() => false);
  }
  if (!ok) {
    name = 'cpu';
    threads = null;
    await tf.setBackend('cpu');
    notes.push('Using the plain JavaScript CPU backend: slow, but it works everywhere.');
  }
  await tf.ready();
  if (name === 'wasm') {
    // The threaded build is only picked when SharedArrayBuffer exists.
    threads = isolated && typeof SharedArrayBuffer !== 'undefined' ? threads : 1;
  }
  let lost: (m: string) => void = () => {};
  const deviceLost = new Promise<string>((resolve) => (lost = resolve));
  let device: GPUDevice | null = null;
  if (name === 'webgpu') {
    device = (tf.backend() as unknown as WebGPUBackend).device;
    void device.lost.then((info) => lost(`${info.reason === 'destroyed' ? 'the GPU device was destroyed' : 'the GPU device was lost'}${info.message ? `: ${info.message}` : ''}`));
  }
  return {
    info: { name, requested, adapter: name === 'webgpu' ? adapter : adapter, threads, crossOriginIsolated: isolated, notes },
    deviceLost,
    loseDevice: () => device?.destroy(),
  };
}
