// Runs one benchmark row in this process and prints it as JSON (the runner starts one process
// per row, so a model that exhausts WASM memory fails alone).
import { initNodeBackend, type NodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { loadModel } from '../src/engine/load.ts';
import { runRow } from '../src/bench/row.ts';
import { DEFAULT_STEP_BENCH } from '../src/bench/step-bench.ts';

const [backend, model, folder, steps] = process.argv.slice(2);
await initNodeBackend(backend as NodeBackend);
const options = { ...DEFAULT_STEP_BENCH, steps: Number(steps) || DEFAULT_STEP_BENCH.steps };
const row = await runRow('node', model, options, folder ? async () => (await loadModel(new FolderSource(folder))).model : undefined);
process.stdout.write(JSON.stringify(row) + '\n');
