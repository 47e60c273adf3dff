import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which the WASM backend
// needs for its multi-threaded build. Hub downloads still work: they are CORS requests.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  // 'mpa': a missing file under public/ is a 404, not index.html (the app probes for optional models).
  appType: 'mpa',
  // Crawl the worker too, so the dev server bundles tfjs up front instead of reloading the page.
  optimizeDeps: { entries: ['index.html', 'src/worker/worker.ts'] },
  // Transform the page and the worker while the browser is still connecting, so the first
  // visit does not wait for each module in turn.
  server: { headers: isolation, host: '127.0.0.1', warmup: { clientFiles: ['./src/main.tsx', './src/worker/worker.ts'] } },
  preview: { headers: isolation, host: '127.0.0.1' },
  worker: {
    format: 'es',
    // tfjs-backend-wasm starts its WASM threads from the source text of its Emscripten factory
    // (Function.prototype.toString); mangled names inside it break the threads, so the worker
    // bundle keeps its names.
    rolldownOptions: { output: { minify: false } },
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096, sourcemap: false },
});
