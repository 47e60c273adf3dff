// The tuning method of `train`, from its flags: --method and each method's settings, with the
// defaults of engine/run/spec.ts (PEFT's).
import { METHOD_NAMES, type MethodConfig, type MethodName } from '../engine/methods/index.ts';
import { DEFAULT_LR, DEFAULT_METHODS as M } from '../engine/run/spec.ts';
import { UsageError, type FlagSpec, type ParsedFlags } from './args.ts';

export const METHOD_FLAGS: FlagSpec[] = [
  { name: 'method', type: 'string', help: `tuning method: ${METHOD_NAMES.join(' | ')}`, default: 'prompt' },
  { name: 'prefix-projection', type: 'boolean', help: 'prefix: train the prefix through Linear-Tanh-Linear (PEFT saves only its output)' },
  { name: 'encoder-type', type: 'string', help: 'p_tuning: MLP | LSTM', default: M.p_tuning.encoderType },
  { name: 'encoder-hidden-size', type: 'int', help: "prefix (with projection) and p_tuning: the encoder's width (default: the model's)" },
  { name: 'encoder-num-layers', type: 'int', help: 'p_tuning LSTM: layers', default: M.p_tuning.encoderNumLayers },
  { name: 'encoder-dropout', type: 'number', help: 'p_tuning LSTM: dropout between layers', default: M.p_tuning.encoderDropout },
  { name: 'lora-r', type: 'int', help: 'lora: rank r', default: M.lora.r },
  { name: 'lora-alpha', type: 'number', help: 'lora: alpha (the delta is scaled by alpha / r)', default: M.lora.alpha },
  { name: 'lora-dropout', type: 'number', help: "lora: dropout on the adapted layers' inputs", default: M.lora.dropout },
  { name: 'target-modules', type: 'string', help: "lora: comma-separated module names, 'all-linear', or a regular expression over module paths (default: PEFT's for the model type)" },
  { name: 'rslora', type: 'boolean', help: 'lora: scale by alpha / sqrt(r) (rsLoRA)' },
];

/** A --target-modules value: a regular expression when it has regex syntax (PEFT's str form), else a list of names. */
export function parseTargetModules(v: string | undefined): string[] | string | null {
  if (v === undefined || v.trim() === '') return null;
  if (v === 'all-linear' || /[*+?()[\]|^$\\]/.test(v)) return v;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function methodName(flags: ParsedFlags): MethodName {
  const m = String(flags.method ?? 'prompt');
  if (!(METHOD_NAMES as string[]).includes(m)) throw new UsageError(`--method must be one of ${METHOD_NAMES.join(', ')}, got "${m}"`);
  return m as MethodName;
}

/** The method config of the flags (prompt tuning's is built from the init flags by the caller). */
export function methodFromFlags(flags: ParsedFlags): Exclude<MethodConfig, { method: 'prompt' }> {
  const V = flags['virtual-tokens'] as number;
  const hidden = (flags['encoder-hidden-size'] as number | undefined) ?? null;
  switch (methodName(flags)) {
    case 'prefix':
      return { ...M.prefix, numVirtualTokens: V, prefixProjection: Boolean(flags['prefix-projection']), encoderHiddenSize: hidden };
    case 'p_tuning': {
      const type = String(flags['encoder-type']).toUpperCase();
      if (type !== 'MLP' && type !== 'LSTM') throw new UsageError(`--encoder-type must be MLP or LSTM, got "${flags['encoder-type']}"`);
      return {
        ...M.p_tuning,
        numVirtualTokens: V,
        encoderType: type,
        encoderHiddenSize: hidden,
        encoderNumLayers: flags['encoder-num-layers'] as number,
        encoderDropout: flags['encoder-dropout'] as number,
      };
    }
    case 'lora':
      return {
        ...M.lora,
        r: flags['lora-r'] as number,
        alpha: flags['lora-alpha'] as number,
        dropout: flags['lora-dropout'] as number,
        targetModules: parseTargetModules(flags['target-modules'] as string | undefined),
        useRslora: Boolean(flags.rslora),
      };
    default:
      throw new UsageError('--method prompt takes the init flags');
  }
}

/** The learning rate: --lr when given, else the method's default. */
export function methodLr(flags: ParsedFlags, given: (flag: string) => boolean): number {
  return given('lr') ? (flags.lr as number) : DEFAULT_LR[methodName(flags)];
}
