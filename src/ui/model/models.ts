// The embedded models and Hub suggestions the model panel offers.
import type { ModelSpec } from '../../worker/protocol.ts';

export interface EmbeddedModel {
  name: string;
  title: string;
  note: string;
}

/** In order of preference: the pretrained demo model, then the random-weight test model. */
export const EMBEDDED_MODELS: EmbeddedModel[] = [
  { name: 'playground-demo', title: 'playground-demo', note: "the project's tiny pretrained demo model" },
  { name: 'tiny-llama', title: 'tiny-llama (random weights)', note: 'a random-weight test model: every code path works, but it knows no language' },
];

export function embeddedUrl(name: string): string {
  return `${import.meta.env.BASE_URL}models/${name}/`;
}

export function embeddedSpec(name: string): ModelSpec {
  return { kind: 'embedded', name, url: embeddedUrl(name) };
}

/** Which embedded models this server has (their config.json answers as JSON). */
export async function availableEmbedded(): Promise<EmbeddedModel[]> {
  const ok = await Promise.all(
    EMBEDDED_MODELS.map(async (m) => {
      try {
        const res = await fetch(`${embeddedUrl(m.name)}config.json`);
        if (!res.ok) return false;
        const json = (await res.json()) as { model_type?: unknown };
        return typeof json.model_type === 'string';
      } catch {
        return false;
      }
    }),
  );
  return EMBEDDED_MODELS.filter((_, i) => ok[i]);
}

export interface HubSuggestion {
  id: string;
  params: string;
  note: string;
}

/** Sizes that fit a browser tab (float32 weights are 4 bytes per parameter). */
export const HUB_SUGGESTIONS: HubSuggestion[] = [
  { id: 'HuggingFaceTB/SmolLM2-135M', params: '135M', note: 'Llama family · 0.5 GB of float32 weights in memory' },
  { id: 'distilbert/distilgpt2', params: '82M', note: 'GPT-2 · 0.3 GB in memory' },
  { id: 'openai-community/gpt2', params: '124M', note: 'GPT-2 · 0.5 GB in memory' },
  { id: 'HuggingFaceTB/SmolLM2-360M', params: '362M', note: 'Llama family · 1.4 GB in memory' },
  { id: 'Qwen/Qwen2.5-0.5B', params: '494M', note: 'Qwen2 · 2 GB in memory' },
  { id: 'Qwen/Qwen3-0.6B', params: '596M', note: 'Qwen3 · 2.4 GB in memory' },
  { id: 'google/gemma-3-270m', params: '268M', note: 'Gemma 3 · 1.1 GB in memory · gated: accept the licence on the Hub, then set a token' },
  { id: 'bigscience/bloomz-560m', params: '559M', note: "BLOOM, PEFT's prompt-tuning example · 2.2 GB in memory" },
];

// The one Hub URL, the engine's (the page shows it and the worker fetches from it).
export { DEFAULT_HUB_ENDPOINT } from '../../engine/io/hub.ts';
