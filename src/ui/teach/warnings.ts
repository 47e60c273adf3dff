// Where prompt tuning is known to struggle, from the numbers of the current setup.
import { initPromptNorm } from '../../engine/run/spec.ts';
import type { ModelInfo, PromptSpec, TrainSpec } from '../../worker/protocol.ts';
import { formatShort } from '../common/format.ts';

export interface TeachWarning {
  id: string;
  text: string;
}

export function teachWarnings(model: ModelInfo | null, prompt: PromptSpec, train: TrainSpec, meanTokens: number | null): TeachWarning[] {
  if (!model) return [];
  const out: TeachWarning[] = [];
  if (model.parameterCount < 1e9) {
    out.push({
      id: 'small-model',
      text: `This model has ${formatShort(model.parameterCount)} parameters. Prompt tuning closes the gap to full fine-tuning only on large models (Lester et al., 2021: around 10B); below ~1B it moves the loss but rarely matches fine-tuning. More virtual tokens and a higher learning rate help a little.`,
    });
  }
  const V = prompt.numVirtualTokens;
  const share = V / model.contextLength;
  const needed = V + (train.maxLength ?? meanTokens ?? 0);
  if (share > 0.1 || needed > model.contextLength) {
    out.push({
      id: 'context',
      text: `${V} virtual tokens take ${(share * 100).toFixed(0)}% of the ${model.contextLength}-token context${needed > model.contextLength ? `, leaving too little for ${train.maxLength ?? Math.round(meanTokens ?? 0)}-token examples: they will be truncated` : ''}. Past ~20 tokens, more rarely helps (Lester et al.).`,
    });
  }
  if (prompt.kind === 'RANDOM' && model.embeddingNorm > 0) {
    const randomNorm = initPromptNorm('RANDOM', model.hiddenSize, model.embeddingNorm);
    const ratio = randomNorm / model.embeddingNorm;
    if (ratio > 3 || ratio < 1 / 3) {
      out.push({
        id: 'random-scale',
        text: `RANDOM init draws N(0, 1) values: rows of norm ≈ √${model.hiddenSize} = ${randomNorm.toFixed(2)}, while this model's token embeddings have norm ≈ ${model.embeddingNorm.toFixed(2)} (${ratio >= 1 ? `${ratio.toFixed(0)}× larger` : `${(1 / ratio).toFixed(0)}× smaller`}). The prompt starts far off the scale the model expects and trains slower; TEXT or SAMPLE_VOCAB start on it.`,
      });
    }
  }
  if (train.lr > 0.3) out.push({ id: 'lr', text: `A learning rate of ${train.lr} is high even for prompt tuning (PEFT uses 3e-2); watch for the loss jumping or turning NaN.` });
  return out;
}
