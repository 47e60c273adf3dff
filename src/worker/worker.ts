// The engine worker: owns tfjs, the engine and IndexedDB; the page talks to it through Comlink.
import * as Comlink from 'comlink';
import { initBackend } from './backend.ts';
import { sourceFor } from './model-source.ts';
import { EngineService } from './service.ts';

const BASE_MODEL_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'README.md'];

/** The files of a built-in model folder that the server has. */
async function embeddedFiles(url: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  const base = new URL(url, self.location.href);
  for (const name of BASE_MODEL_FILES) {
    try {
      const res = await fetch(new URL(name, base));
      if (res.ok && !(res.headers.get('content-type') ?? '').startsWith('text/html')) out[name] = new Uint8Array(await res.arrayBuffer());
    } catch {
      // missing optional file
    }
  }
  return out;
}

Comlink.expose(new EngineService({ initBackend, sourceFor, embeddedFiles }));
