// What a run is, as the tab and the CLI both describe it: the soft prompt, the training settings
// and their defaults (defined here once), the validation cadence, and the split a run trains on.
// No tfjs here: the page imports this file for its forms.
import type { InitKind } from '../prompt/init.ts';
import type { MethodConfig, MethodName } from '../methods/index.ts';

export interface PromptSpec {
  kind: InitKind;
  text: string | null;
  numVirtualTokens: number;
  seed: number;
}

export interface TrainSpec {
  lr: number;
  epochs: number;
  batchSize: number;
  /** Longest example in tokens, virtual tokens excluded; null: what the context leaves. */
  maxLength: number | null;
  warmupSteps: number;
  seed: number;
  /** Evaluations without a better validation loss before stopping (0: never stop early). */
  patience: number;
  valSplit: number;
  weightDecay: number;
  /** Validate every N steps (null: the default cadence, see evalEveryFor). */
  evalEvery: number | null;
  /** Stop after this many steps (null: all epochs). */
  maxSteps: number | null;
  /** Apply the model config's dropout on training steps, as transformers does in training mode. */
  dropout: boolean;
}

/** The one set of defaults: the tab's form, the CLI's flags and the trainer all start from it. */
export const DEFAULT_TRAIN_SPEC: TrainSpec = {
  lr: 3e-2,
  epochs: 3,
  batchSize: 8,
  maxLength: 64,
  warmupSteps: 0,
  seed: 42,
  patience: 0,
  valSplit: 0.1,
  // torch.optim.AdamW's default decoupled weight decay.
  weightDecay: 0.01,
  evalEvery: null,
  maxSteps: null,
  dropout: true,
};

/** The prompt a run starts from unless told otherwise: the tab's form and the CLI's init flags (the complaint task's phrase). */
export const DEFAULT_PROMPT_SPEC: PromptSpec = {
  kind: 'TEXT',
  text: 'Classify if the tweet is a complaint or not:',
  numVirtualTokens: 8,
  // One seed for the init, the split and the shuffling (the tab keeps the two equal).
  seed: DEFAULT_TRAIN_SPEC.seed,
};

/**
 * Each method's settings unless told otherwise: PEFT's config defaults (LoRA r 8, alpha 8, no
 * dropout, the model type's target modules; an MLP encoder of the model's width), with the
 * prompt methods' V of the prompt spec. Prompt tuning's own settings are DEFAULT_PROMPT_SPEC.
 */
export const DEFAULT_METHODS: { [K in Exclude<MethodName, 'prompt'>]: Extract<MethodConfig, { method: K }> } = {
  prefix: { method: 'prefix', numVirtualTokens: DEFAULT_PROMPT_SPEC.numVirtualTokens, prefixProjection: false, encoderHiddenSize: null, initWeights: null },
  p_tuning: { method: 'p_tuning', numVirtualTokens: DEFAULT_PROMPT_SPEC.numVirtualTokens, encoderType: 'MLP', encoderHiddenSize: null, encoderNumLayers: 2, encoderDropout: 0 },
  lora: { method: 'lora', r: 8, alpha: 8, dropout: 0, targetModules: null, useRslora: false },
};

/**
 * A learning rate per method that trains the demo model's tasks in a few epochs (the prompt
 * methods take large steps on few values; LoRA's deltas act on every token and need small ones).
 */
export const DEFAULT_LR: Record<MethodName, number> = { prompt: DEFAULT_TRAIN_SPEC.lr, prefix: 1e-2, p_tuning: 1e-2, lora: 5e-3 };

/** The method config of a run: prompt tuning from its prompt spec, the others as given. */
export function methodConfigOf(prompt: PromptSpec, method: MethodConfig | null | undefined): MethodConfig {
  if (method && method.method !== 'prompt') return method;
  return { method: 'prompt', numVirtualTokens: prompt.numVirtualTokens, init: prompt.kind, initText: prompt.kind === 'TEXT' ? prompt.text : null };
}

/**
 * The norm a soft prompt's rows start at, to put beside the vocabulary's (the mean L2 norm of the
 * token embedding rows): RANDOM draws N(0, 1) per value, so its rows have norm about sqrt(H);
 * TEXT and SAMPLE_VOCAB copy embedding rows, so they start on the vocabulary's scale.
 */
export function initPromptNorm(kind: InitKind, hiddenSize: number, embeddingNorm: number): number {
  return kind === 'RANDOM' ? Math.sqrt(hiddenSize) : embeddingNorm;
}

/**
 * The validation cadence of a run: every `evalEvery` steps when set, else twice per epoch (so a
 * short run still sees its validation curve bend). train_peft.py gets the resolved number.
 */
export function evalEveryFor(stepsPerEpoch: number, evalEvery: number | null): number {
  if (evalEvery !== null && !(Number.isInteger(evalEvery) && evalEvery >= 1)) throw new Error(`evalEvery must be a positive integer or null, got ${evalEvery}`);
  return evalEvery ?? Math.max(1, Math.ceil(stepsPerEpoch / 2));
}

/**
 * The rows a run trained and validated on, by index into its dataset's rows (test: into its test
 * rows), and the hash of the dataset they index. Evaluation and train_peft.py read these instead
 * of splitting again, so a changed seed or split setting can never put a training row in a score.
 */
export interface RunSplit {
  datasetHash: string;
  train: number[];
  validation: number[];
  test: number[];
}

/**
 * An accuracy and the rows it was measured on, so that a score is never shown (or exported as
 * held-out) without saying which rows it covers.
 */
export interface MeasuredAccuracy {
  value: number;
  /** How many rows were scored. */
  count: number;
  /** Which rows, in words: "150 test rows of complaint", "the first 40 validation rows of my.csv". */
  rows: string;
  /** True only for rows the adapter's own run held out from training (its stored split). */
  heldOut: boolean;
  /** Hash of the dataset the rows come from, when known. */
  datasetHash: string | null;
}
