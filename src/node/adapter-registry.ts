// The adapters a server offers: every sub-folder of a directory that holds adapter_config.json
// (any method: prompt tuning, prefix tuning, P-tuning, LoRA), read with the engine's adapter
// import and checked against the loaded model. The directory is
// looked at again on every request, so adapters dropped in (or replaced, or removed) are picked
// up without a restart; a folder is re-read only when its files change.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { baseRevision, baseWarnings, CONFIG_FILE, WEIGHTS_FILE } from '../engine/adapter/adapter.ts';
import { loadMethodAdapter, type MethodAdapter } from '../engine/adapter/method-adapter.ts';
import type { LoadedModel } from '../engine/load.ts';
import { disposeInjection, type Injection } from '../engine/methods/method.ts';
import { contextTokensOf } from '../engine/prompt/prompted.ts';
import { readMethodAdapterFolder } from './adapter-folder.ts';

export interface ReadyAdapter {
  name: string;
  adapter: MethodAdapter;
  /** What the adapter puts into a row's forward pass. */
  tuned: Injection;
  /** Positions it takes from the context (virtual tokens, a prefix). */
  contextTokens: number;
  warnings: string[];
}

export interface RefusedAdapter {
  name: string;
  reason: string;
}

type Entry = { signature: string } & ({ ready: ReadyAdapter } | { refused: RefusedAdapter });

/** The revision the loaded model was read at, or null where it is not known (a local folder). */
export function loadedRevision(lm: LoadedModel): string | null {
  return baseRevision(lm.origin);
}

export class AdapterRegistry {
  private entries = new Map<string, Entry>();
  private readonly retired: Injection[] = [];

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
      const adapter = readMethodAdapterFolder(folder);
      const warnings = baseWarnings(adapter.meta.baseModel, adapter.meta.revision, this.lm.origin).filter((w) => !w.includes('revision'));
      const loaded = loadedRevision(this.lm);
      const { revision } = adapter.meta;
      if (revision && loaded && revision !== loaded) {
        const why = `adapter was trained on base revision ${revision}, the loaded model is at ${loaded} (base model drift can break an adapter)`;
        if (!this.allowDrift) return { signature, refused: { name, reason: `${why}; start serve with --allow-drift to serve it anyway` } };
      } else if (revision && !loaded) warnings.push(`adapter names base revision ${revision}; the loaded model's revision is unknown, so it cannot be checked`);
      const tuned = loadMethodAdapter(adapter, this.lm.model);
      return { signature, ready: { name, adapter, tuned, contextTokens: contextTokensOf(tuned), warnings } };
    } catch (e) {
      return { signature, refused: { name, reason: (e as Error).message } };
    }
  }

  /**
   * Re-reads the folder. Replaced adapters are not disposed here: inside a batch, a soft prompt or
   * a prefix is read until a row's first forward pass, LoRA factors at every decoding step; so
   * replaced adapters are freed by `collect`, which the server calls when no row is decoding.
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
      if (old && 'ready' in old) this.retire(old.ready);
      this.entries.set(name, this.load(name, folder, signature));
    }
    for (const [name, e] of this.entries) {
      if (seen.has(name)) continue;
      if ('ready' in e) this.retire(e.ready);
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

  private retire(a: ReadyAdapter): void {
    this.retired.push(a.tuned);
  }

  /** Frees the tensors of adapters replaced or removed since the last call (when no row is decoding). */
  collect(): void {
    for (const t of this.retired.splice(0)) disposeInjection(t);
  }

  dispose(): void {
    for (const e of this.entries.values()) if ('ready' in e) this.retire(e.ready);
    this.collect();
    this.entries.clear();
  }
}
