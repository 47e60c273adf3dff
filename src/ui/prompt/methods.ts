// The tuning methods as the page offers them: names, one line each, the config a run gets from the
// form, and choosing a method (its learning rate follows DEFAULT_LR unless the user set one).
import { DEFAULT_LR, type MethodConfig, type MethodName } from '../../worker/protocol.ts';
import { app, type AppState } from '../app/state.ts';
import { refreshStats } from '../data/actions.ts';

export const METHOD_LIST: { name: MethodName; title: string; line: string }[] = [
  { name: 'prompt', title: 'Prompt tuning', line: 'V trainable vectors prepended to the input embeddings.' },
  { name: 'prefix', title: 'Prefix tuning', line: "V trainable keys and values in every layer's attention." },
  { name: 'p_tuning', title: 'P-tuning', line: 'V virtual tokens produced by a small trained encoder (MLP or LSTM).' },
  { name: 'lora', title: 'LoRA', line: 'Low-rank trainable deltas added to named projection weights.' },
];

export const methodTitle = (m: MethodName): string => METHOD_LIST.find((x) => x.name === m)?.title ?? m;

/** The method config a run of `name` gets from the form (null: prompt tuning, from the prompt settings). */
export function methodConfigFor(s: Pick<AppState, 'methods'>, name: MethodName): MethodConfig | null {
  return name === 'prompt' ? null : { ...s.methods[name] };
}

/** The config of a method for the worker's facts (prompt tuning's from the prompt settings). */
export function factsConfigFor(s: Pick<AppState, 'methods' | 'prompt'>, name: MethodName): MethodConfig {
  return methodConfigFor(s, name) ?? { method: 'prompt', numVirtualTokens: s.prompt.numVirtualTokens, init: s.prompt.kind, initText: s.prompt.kind === 'TEXT' ? s.prompt.text : null };
}

/** The learning rate a run of `name` trains at: the user's for that method, else DEFAULT_LR. */
export function lrFor(s: Pick<AppState, 'methodLr'>, name: MethodName): number {
  return s.methodLr[name] ?? DEFAULT_LR[name];
}

/** Virtual tokens of a method's settings (LoRA: none). */
export function virtualTokensOf(s: Pick<AppState, 'methods' | 'prompt'>, name: MethodName): number {
  if (name === 'prompt') return s.prompt.numVirtualTokens;
  const c = s.methods[name];
  return 'numVirtualTokens' in c ? c.numVirtualTokens : 0;
}

export function chooseMethod(name: MethodName): void {
  app.set((s) => ({ method: name, train: { ...s.train, lr: lrFor(s, name) } }));
  void refreshStats();
}

/** The learning rate the user typed: kept for the chosen method. */
export function setLr(lr: number): void {
  app.set((s) => ({ train: { ...s.train, lr }, methodLr: { ...s.methodLr, [s.method]: lr } }));
}

export function setMethodSettings<K extends Exclude<MethodName, 'prompt'>>(name: K, change: Partial<AppState['methods'][K]>, restat = false): void {
  app.set((s) => ({ methods: { ...s.methods, [name]: { ...s.methods[name], ...change } } }));
  if (restat) void refreshStats();
}
