import type { AdapterConfig } from './peft-config.ts';

export interface CardExtras {
  /** Free-form facts about the run (dataset, steps, accuracy...), listed in the card. */
  facts?: Record<string, string | number>;
}

/** README.md as PEFT's save_pretrained writes it (front matter), plus how to load the adapter. */
export function modelCard(config: AdapterConfig, extras: CardExtras = {}): string {
  return adapterCard(
    { baseModel: config.baseModel, revision: config.revision, tag: 'prompt-tuning', title: 'Soft prompt' },
    `A PEFT prompt-tuning adapter: ${config.numVirtualTokens} virtual tokens of width ${config.tokenDim}, ` +
      `initialised with ${config.init}${config.init === 'TEXT' && config.initText ? ` ("${config.initText}")` : ''}, ` +
      'trained with the prompt-tuning playground. Every weight of the base model stayed frozen.',
    extras,
  );
}

/** The card of any method: front matter, what the adapter is (`description`), the run's facts, and how to load it. */
export function adapterCard(head: { baseModel: string | null; revision: string | null; tag: string; title: string }, description: string, extras: CardExtras = {}): string {
  const base = head.baseModel ?? '<base model id>';
  const revisionArg = head.revision ? `, revision="${head.revision}"` : '';
  const lines = ['---', `base_model: ${base}`, 'library_name: peft', 'tags:', `- ${head.tag}`, '- peft', '---', '', `# ${head.title} for ${base}`, '', description, ''];
  if (extras.facts && Object.keys(extras.facts).length) {
    lines.push('## Training', '', ...Object.entries(extras.facts).map(([k, v]) => `- ${k}: ${v}`), '');
  }
  lines.push(
    '## Load it with PEFT',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    'from peft import PeftModel',
    '',
    `base = AutoModelForCausalLM.from_pretrained("${base}"${revisionArg})`,
    `tokenizer = AutoTokenizer.from_pretrained("${base}"${revisionArg})`,
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
    '```',
    '',
  );
  if (head.revision) lines.push(`The base model is pinned to revision \`${head.revision}\`, the one the adapter was trained on.`, '');
  return lines.join('\n');
}
