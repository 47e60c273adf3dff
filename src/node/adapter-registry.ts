// The adapters a server offers: every sub-folder of a directory that holds adapter_config.json,
// read with the engine's adapter import and checked against the loaded model. The directory is
// looked at again on every request, so adapters dropped in (or replaced, or removed) are picked
// up without a restart; a folder is re-read only when its files change.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkAdapterFits, CONFIG_FILE, WEIGHTS_FILE, type PromptAdapter } from '../engine/adapter/adapter.ts';
import type { LoadedModel } from '../engine/load.ts';
import { readAdapterFolder } from './adapter-folder.ts';

export interface ReadyAdapter {
  name: string;
  adapter: PromptAdapter;
  prompt: tf.Tensor2D;
  warnings: string[];
}

export interface RefusedAdapter {
  name: string;
  reason: string;
}

type Entry = { signature: string } & ({ ready: ReadyAdapter } | { refused: RefusedAdapter });

/** The revision the loaded model was read at, or null where it is not known (a local folder). */
export function loadedRevision(lm: LoadedModel): string | null {
  return lm.origin.commit ?? (lm.origin.kind === 'hub' ? lm.origin.revision : null);
}

export class AdapterRegistry {
  private entries = new Map<string, Entry>();

  constructor(
    readonly dir: string,
    private readonly lm: LoadedModel,
    private readonly allowDrift: boolean,
  ) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--adapters ${dir} is not a folder`);
  }

  private signature(folder: string): string {
    return [CONFIG_FILE, WEIGHTS_FILE]
      .map((f) => {
        const p = path.join(folder, f);
        if (!existsSync(p)) return '-';
        const s = statSync(p);
        return `${s.size}:${s.mtimeMs}`;
      })
      .join('|');
  }

  private load(name: string, folder: string, signature: string): Entry {
    try {
      const adapter = readAdapterFolder(folder);
      const warnings = checkAdapterFits(adapter, this.lm.model.config, this.lm.origin);
      const loaded = loadedRevision(this.lm);
      const { revision } = adapter.config;
      if (revision && loaded && revision !== loaded) {
        const why = `adapter was trained on base revision ${revision}, the loaded model is at ${loaded} (base model drift can break an adapter)`;
        if (!this.allowDrift) return { signature, refused: { name, reason: `${why}; start serve with --allow-drift to serve it anyway` } };
      } else if (revision && !loaded) warnings.push(`adapter names base revision ${revision}; the loaded model's revision is unknown, so it cannot be checked`);
      const prompt = tf.tensor2d(adapter.promptEmbeddings, [adapter.config.numVirtualTokens, this.lm.model.config.hiddenSize]);
      return { signature, ready: { name, adapter, prompt, warnings } };
    } catch (e) {
      return { signature, refused: { name, reason: (e as Error).message } };
    }
  }

  /**
   * Re-reads the folder. Replaced prompts are disposed here, which is safe between batches and
   * inside one: a batch reads its prompts only in its first, synchronous forward pass.
   */
  refresh(): void {
    const seen = new Set<string>();
    for (const name of readdirSync(this.dir)) {
      const folder = path.join(this.dir, name);
      if (!statSync(folder).isDirectory() || !existsSync(path.join(folder, CONFIG_FILE))) continue;
      seen.add(name);
      const signature = this.signature(folder);
      const old = this.entries.get(name);
      if (old?.signature === signature) continue;
      if (old && 'ready' in old) old.ready.prompt.dispose();
      this.entries.set(name, this.load(name, folder, signature));
    }
    for (const [name, e] of this.entries) {
      if (seen.has(name)) continue;
      if ('ready' in e) e.ready.prompt.dispose();
      this.entries.delete(name);
    }
  }

  get(name: string): ReadyAdapter | RefusedAdapter | undefined {
    const e = this.entries.get(name);
    return e ? ('ready' in e ? e.ready : e.refused) : undefined;
  }

  ready(): ReadyAdapter[] {
    return [...this.entries.values()].flatMap((e) => ('ready' in e ? [e.ready] : [])).sort((a, b) => a.name.localeCompare(b.name));
  }

  refused(): RefusedAdapter[] {
    return [...this.entries.values()].flatMap((e) => ('refused' in e ? [e.refused] : [])).sort((a, b) => a.name.localeCompare(b.name));
  }

  dispose(): void {
    for (const e of this.entries.values()) if ('ready' in e) e.ready.prompt.dispose();
    this.entries.clear();
  }
}
