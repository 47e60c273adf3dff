// `cli serve`: the OpenAI-style completions server (src/node/serve-server.ts) on one base model
// and a folder of adapters, until SIGINT / SIGTERM, which drain the requests in flight.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serveScript } from '../../engine/adapter/serve-script.ts';
import type { BatchingMode } from '../../engine/serve/scheduler.ts';
import { startServe } from '../../node/serve-server.ts';
import { UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { loadCliModel, MODEL_FLAG } from '../context.ts';
import { emit } from '../output.ts';

export const serve: Command = {
  spec: {
    name: 'serve',
    summary: 'OpenAI-style HTTP server (GET /v1/models, POST /v1/completions): requests for different adapters share forward passes.',
    usage: 'serve --model M --adapters DIR [--port P] [--host H] [--allow-drift] | serve --model M --adapters DIR --write-script',
    flags: [
      MODEL_FLAG,
      { name: 'adapters', type: 'string', help: 'folder of adapter folders (each one served under its folder name; new ones are picked up without a restart)', required: true },
      { name: 'port', type: 'int', help: 'port to listen on (0: any free port; the address is printed)', default: 8000 },
      { name: 'host', type: 'string', help: 'address to listen on', default: '127.0.0.1' },
      { name: 'allow-drift', type: 'boolean', help: 'serve adapters trained on another revision of the base model (refused by default)' },
      { name: 'batching', type: 'string', help: 'mixed: any adapters share a batch; per-adapter: one adapter per batch (swapping adapters, for comparison)', default: 'mixed' },
      { name: 'batch-window-ms', type: 'number', help: 'how long a request waits for others to join its batch', default: 5 },
      { name: 'max-batch', type: 'int', help: 'most rows in one batch', default: 16 },
      { name: 'max-queue', type: 'int', help: 'most rows waiting; beyond it requests get 429', default: 64 },
      { name: 'write-script', type: 'boolean', help: 'write DIR/serve_peft.py (the same mixed-batch serving with transformers + PEFT, for a GPU server) and exit' },
    ],
  },
  async run(flags) {
    const mode = flags.batching as string;
    if (mode !== 'mixed' && mode !== 'per-adapter') throw new UsageError(`serve: --batching must be mixed or per-adapter, got "${mode}"`);
    for (const f of ['max-batch', 'max-queue']) if ((flags[f] as number) < 1) throw new UsageError(`serve: --${f} must be at least 1`);
    if ((flags['batch-window-ms'] as number) < 0) throw new UsageError('serve: --batch-window-ms must not be negative');
    const lm = await loadCliModel(flags.model as string);
    if (flags['write-script']) {
      mkdirSync(flags.adapters as string, { recursive: true });
      const file = path.join(flags.adapters as string, 'serve_peft.py');
      writeFileSync(file, serveScript({ baseModel: lm.origin.id, revision: lm.origin.commit ?? lm.origin.revision }));
      lm.dispose();
      return emit({ wrote: file, base_model: lm.origin.id, revision: lm.origin.commit ?? lm.origin.revision });
    }
    const server = await startServe({
      lm,
      adaptersDir: flags.adapters as string,
      host: flags.host as string,
      port: flags.port as number,
      allowDrift: Boolean(flags['allow-drift']),
      scheduler: { mode: mode as BatchingMode, windowMs: flags['batch-window-ms'] as number, maxBatch: flags['max-batch'] as number, maxQueue: flags['max-queue'] as number },
      log: (line) => process.stderr.write(line + '\n'),
    });
    emit({
      listening: server.url,
      model: lm.origin.id,
      revision: lm.origin.commit ?? lm.origin.revision,
      adapters: server.registry.ready().map((a) => a.name),
      refused: server.registry.refused(),
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: draining requests in flight\n`);
        server.close().then(() => {
          emit({ stopped: signal });
          lm.dispose();
          resolve();
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },
};
