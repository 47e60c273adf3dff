import type { AdapterConfig } from './peft-config.ts';

export interface CardExtras {
  /** Free-form facts about the run (dataset, steps, accuracy...), listed in the card. */
  facts?: Record<string, string | number>;
}

/** README.md as PEFT's save_pretrained writes it (front matter), plus how to load the adapter. */
export function modelCard(config: AdapterConfig, extras: CardExtras = {}): string {
  const base = config.baseModel ?? '<base model id>';
  const revisionArg = config.revision ? `, revision="${config.revision}"` : '';
  const lines = [
    '---',
    `base_model: ${base}`,
    'library_name: peft',
    'tags:',
    '- prompt-tuning',
    '- peft',
    '---',
    '',
    `# Soft prompt for ${base}`,
    '',
    `A PEFT prompt-tuning adapter: ${config.numVirtualTokens} virtual tokens of width ${config.tokenDim}, ` +
      `initialised with ${config.init}${config.init === 'TEXT' && config.initText ? ` ("${config.initText}")` : ''}, ` +
      'trained with the prompt-tuning playground. Every weight of the base model stayed frozen.',
    '',
  ];
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
  if (config.revision) lines.push(`The base model is pinned to revision \`${config.revision}\`, the one the adapter was trained on.`, '');
  return lines.join('\n');
}
