// tfjs in Node without native binaries: the WASM backend (XNNPACK, SIMD) loaded from
// node_modules, the plain-JS CPU backend as the fallback.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { replaceWasmKernels } from '../engine/kernels/wasm-replacements.ts';

export type NodeBackend = 'wasm' | 'cpu';

let ready: Promise<string> | null = null;

export function initNodeBackend(preferred: NodeBackend = (process.env.PT_BACKEND as NodeBackend) || 'wasm'): Promise<string> {
  ready ??= (async () => {
    // tfjs-core warns about tfjs-node on every import in Node; that advice does not apply here.
    tf.env().set('IS_NODE', true);
    tf.env().set('PROD', true);
    if (preferred === 'wasm') {
      const require = createRequire(import.meta.url);
      const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      setWasmPaths(path.join(dir, 'dist') + path.sep);
      replaceWasmKernels();
      const before = new Set([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
      const ok = await tf.setBackend('wasm').catch(() => false);
      // The Emscripten runtime adds handlers that rethrow every error with its whole minified
      // source attached; errors are better left to the program.
      for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
        for (const l of process.listeners(event)) if (!before.has(l)) process.removeListener(event, l as (...a: unknown[]) => void);
      }
      if (ok) return 'wasm';
    }
    await tf.setBackend('cpu');
    return 'cpu';
  })();
  return ready;
}
