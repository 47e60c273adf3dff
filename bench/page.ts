// The browser side of `npm run bench`: one row per page load, chosen by the query string
// (?backend=webgpu|wasm|webgl|cpu&model=<shape or demo>&steps=N; a real-size row adds
// &hub=<endpoint>&repo=<id>&fileBytes=N and loads through the engine's Hub code path). The result lands in
// window.__benchResult (or window.__benchError) for the driver to read.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import { initBackend } from '../src/worker/backend.ts';
import type { BackendName } from '../src/worker/protocol.ts';
import { loadModel } from '../src/engine/load.ts';
import { UrlFolderSource } from '../src/engine/io/url-source.ts';
import { HubSource, parseHubRef } from '../src/engine/io/hub.ts';
import { runRow } from './row.ts';
import { DEFAULT_STEP_BENCH } from './step-bench.ts';

const params = new URLSearchParams(location.search);
const backend = params.get('backend') ?? 'webgpu';
const model = params.get('model') ?? 'demo';
const steps = Number(params.get('steps') ?? DEFAULT_STEP_BENCH.steps);
const hub = params.get('hub');
const repo = params.get('repo');
const fileBytes = params.get('fileBytes');
const warmup = Number(params.get('warmup') ?? DEFAULT_STEP_BENCH.warmup);
const profile = params.get('profile') !== '0';
const log = (s: string) => {
  (document.getElementById('log') as HTMLElement).textContent += `\n${s}`;
  console.log(s);
};

async function main(): Promise<void> {
  // WebGL is benchmarked too, though the app does not offer it.
  const details: Record<string, unknown> = { crossOriginIsolated };
  if (backend === 'webgl') {
    if (!(await tf.setBackend('webgl'))) throw new Error('backend webgl is not available in this browser');
    await tf.ready();
  } else {
    const { info } = await initBackend(backend as BackendName);
    if (info.name !== backend) throw new Error(`backend ${backend} is not available (${info.notes.join(' ')})`);
    Object.assign(details, { threads: info.threads, adapter: info.adapter ? `${info.adapter.vendor} ${info.adapter.architecture}`.trim() : null });
  }
  log(`backend ${backend} ready ${JSON.stringify(details)}`);
  const source = hub && repo ? new HubSource(parseHubRef(repo), { endpoint: hub }) : model === 'demo' ? new UrlFolderSource('playground-demo', `${location.origin}/models/playground-demo`) : null;
  const row = await runRow(
    `browser (${navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'browser'})`,
    model,
    { ...DEFAULT_STEP_BENCH, steps, warmup, profile },
    source ? async () => (await loadModel(source)).model : undefined,
    log,
    fileBytes ? Number(fileBytes) : null,
  );
  (window as unknown as { __benchResult: unknown }).__benchResult = { ...row, details };
  log(JSON.stringify(row));
}

main().catch((e: Error) => {
  (window as unknown as { __benchError: string }).__benchError = e.message ?? String(e);
  log(`error: ${e.message}`);
});
