// Runs one benchmark row in this process and prints it as JSON (the runner starts one process
// per row, so a model that exhausts WASM memory fails alone). The source is '' (random weights
// with a shape from shapes.ts), a folder, or `hub:<endpoint>#<repo id>` (the engine's Hub code path).
import { initNodeBackend, type NodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { HubSource, parseHubRef } from '../src/engine/io/hub.ts';
import { loadModel } from '../src/engine/load.ts';
import type { ModelSource } from '../src/engine/io/source.ts';
import { runRow } from './row.ts';
import { benchMethodConfig, DEFAULT_STEP_BENCH } from './step-bench.ts';

const [backend, model, source, steps, fileBytes, warmup, profile, method] = process.argv.slice(2);
await initNodeBackend(backend as NodeBackend);
const options = {
  ...DEFAULT_STEP_BENCH,
  steps: Number(steps) || DEFAULT_STEP_BENCH.steps,
  warmup: warmup ? Number(warmup) : DEFAULT_STEP_BENCH.warmup,
  profile: profile !== '0',
  ...(method ? { method: benchMethodConfig(method) } : {}),
};
const hub = source?.match(/^hub:(.+)#(.+)$/);
const open = (): ModelSource => (hub ? new HubSource(parseHubRef(hub[2]), { endpoint: hub[1] }) : new FolderSource(source));
const log = (s: string) => process.stderr.write(`  [node ${backend} ${model}${method ? ` ${method}` : ''}] ${s}\n`);
const row = await runRow('node', model, options, source ? async () => (await loadModel(open())).model : undefined, log, fileBytes ? Number(fileBytes) : null);
process.stdout.write(JSON.stringify(row) + '\n');
