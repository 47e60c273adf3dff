import { loadWeights } from './io/checkpoint.ts';
import { describeSource, readJson, tryReadJson, SourceError, type ModelSource, type ProgressCallback } from './io/source.ts';
import type { CausalLM } from './models/model.ts';
import { buildModel, modelConfig } from './models/registry.ts';
import { TextTokenizer } from './tokenizer.ts';

/** Where a loaded model came from: what an exported adapter names as its base. */
export interface ModelOrigin {
  kind: ModelSource['kind'];
  id: string;
  /** Revision asked for (Hub). */
  revision: string | null;
  /** Commit actually read (Hub), or null. */
  commit: string | null;
}

export interface LoadedModel {
  model: CausalLM;
  tokenizer: TextTokenizer;
  origin: ModelOrigin;
  rawConfig: Record<string, unknown>;
  /** Token id that ends a target (EOS), and the id used to pad batches. */
  eosTokenId: number;
  padTokenId: number;
  dispose(): void;
}

function asObject(v: unknown, file: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SourceError(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

export async function loadModel(source: ModelSource, onProgress?: ProgressCallback): Promise<LoadedModel> {
  const rawConfig = asObject(await readJson(source, 'config.json'), 'config.json');
  const config = modelConfig(rawConfig); // fail on an unsupported model before downloading weights
  const tokenizerJson = await tryReadJson(source, 'tokenizer.json');
  if (!tokenizerJson) throw new SourceError(`${describeSource(source)} has no tokenizer.json (only fast-tokenizer files are supported)`);
  const tokenizerConfig = await tryReadJson(source, 'tokenizer_config.json');
  // AutoTokenizer consults config.json's model_type next to tokenizer_class.
  const tokenizer = new TextTokenizer(
    tokenizerJson,
    tokenizerConfig ? asObject(tokenizerConfig, 'tokenizer_config.json') : null,
    typeof rawConfig.model_type === 'string' ? rawConfig.model_type : null,
  );
  const weights = await loadWeights(source, onProgress);
  const model = buildModel(rawConfig, weights);
  const eos = tokenizer.eosTokenId ?? config.eosTokenIds[0] ?? null;
  if (eos === null) {
    model.dispose();
    throw new SourceError(`${describeSource(source)}: neither tokenizer_config.json nor config.json names an EOS token`);
  }
  const origin: ModelOrigin = { kind: source.kind, id: source.id, revision: source.revision, commit: await source.resolvedRevision() };
  return {
    model,
    tokenizer,
    origin,
    rawConfig,
    eosTokenId: eos,
    padTokenId: tokenizer.padTokenId ?? config.padTokenId ?? eos,
    dispose: () => model.dispose(),
  };
}
