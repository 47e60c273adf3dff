// The project's own tfjs kernels, per backend, registered in one place and looked up by name
// on the backend in use. They call tfjs backend internals (the WASM heap, WebGPU programs) that
// are not public API, so they are used only with the tfjs version they were written for; with
// any other version every lookup says no and callers take their composite-op paths (16-bit
// weights are then widened at load), after one warning naming both versions.
import * as tf from '@tensorflow/tfjs-core';
import { CPU_UNPACK_KERNELS, WASM_UNPACK_KERNELS } from './unpack16.ts';
import { WASM_LOOP_KERNELS } from './wasm-loops.ts';
import { WEBGPU_FUSED_KERNELS } from './webgpu-fused.ts';
import { WEBGPU_PACKED_KERNELS } from './webgpu-packed.ts';

/** The tfjs release (tfjs-core and the backends, released together) the kernels were written against. */
export const TFJS_VERSION = '4.22.0';

type KernelImpl = (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, number>, backend: never) => tf.TensorInfo | tf.TensorInfo[];

const KERNELS: Record<string, Record<string, KernelImpl>> = {
  webgpu: { ...WEBGPU_FUSED_KERNELS, ...WEBGPU_PACKED_KERNELS },
  wasm: { ...WASM_LOOP_KERNELS, ...WASM_UNPACK_KERNELS },
  cpu: { ...CPU_UNPACK_KERNELS },
};

let versionOverride: string | null = null;
let warned = false;

/** For tests: pretend another tfjs version is installed (null: the real one). */
export function setTfjsVersionForTest(version: string | null): void {
  versionOverride = version;
}

/** Why the kernels are off, or null when the installed tfjs is the one they were written for. */
export function tfjsVersionProblem(): string | null {
  const installed = versionOverride ?? tf.version_core;
  if (installed === TFJS_VERSION) return null;
  return `the engine's own kernels were written for tfjs ${TFJS_VERSION} and the installed @tensorflow/tfjs-core is ${installed}: they are off (tfjs's own kernels run instead, slower; 16-bit weights are widened to float32 at load, doubling their memory). Install tfjs ${TFJS_VERSION}, or check the kernels in src/engine/kernels against the new version and update TFJS_VERSION.`;
}

/** Whether the kernels may be used at all (warns once when not). */
export function kernelsUsable(): boolean {
  const problem = tfjsVersionProblem();
  if (problem && !warned) {
    warned = true;
    console.warn(problem);
  }
  return problem === null;
}

const registered = new Set<string>();

function registerFor(backendName: string): void {
  if (registered.has(backendName)) return;
  registered.add(backendName);
  for (const [kernelName, fn] of Object.entries(KERNELS[backendName] ?? {})) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => fn(inputs as Record<string, tf.TensorInfo>, attrs as unknown as Record<string, number>, backend as never),
    });
  }
}

/** Whether the current backend has the kernel `name` (registering the backend's kernels on first use). */
export function hasKernel(name: string): boolean {
  const backendName = tf.getBackend();
  if (!KERNELS[backendName]?.[name] || !kernelsUsable()) return false;
  registerFor(backendName);
  return true;
}

/** Names of the kernels a backend has here. */
export function kernelNames(backendName: string): string[] {
  return Object.keys(KERNELS[backendName] ?? {});
}
