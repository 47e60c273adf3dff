import { useState } from 'react';
import type { MethodName } from '../../worker/protocol.ts';
import { app, isTraining, type AppState } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatCount, formatLoss, formatShort } from '../common/format.ts';
import { methodTitle } from '../prompt/methods.ts';
import { teachWarnings } from './warnings.ts';

/** Where a method enters the frozen model, in a few sentences. */
export function whereItEnters(m: MethodName, s: Pick<AppState, 'methods' | 'prompt'>, model: { numLayers: number; hiddenSize: number } | null): string {
  const L = model?.numLayers ?? 'every';
  switch (m) {
    case 'prompt':
      return `Prompt tuning enters at the input: ${s.prompt.numVirtualTokens} trained vectors are put before the token embeddings of every example, and the model reads them like words. Nothing inside the model changes; the gradient reaches the vectors only through the input.`;
    case 'prefix':
      return `Prefix tuning enters every layer: in each of the ${L} attention blocks, ${s.methods.prefix.numVirtualTokens} trained keys and values are put before those the tokens make, so every token can attend to them at every depth. The input and all weights stay as they were${s.methods.prefix.prefixProjection ? '; the prefix is produced by a small Linear-Tanh-Linear projection that is trained instead, and only its output is saved' : ''}.`;
    case 'p_tuning':
      return `P-tuning enters at the input, like prompt tuning, but its ${s.methods.p_tuning.numVirtualTokens} virtual tokens are not trained directly: a small ${s.methods.p_tuning.encoderType} encoder produces them from ${s.methods.p_tuning.numVirtualTokens} embeddings, and the encoder's weights are what is trained. PEFT saves only the tokens it produced.`;
    case 'lora': {
      const c = s.methods.lora;
      const t = c.targetModules === null ? "the model type's default projections" : typeof c.targetModules === 'string' ? `the projections matching ${c.targetModules}` : c.targetModules.join(', ');
      return `LoRA enters the weights: for ${t} in each of the ${L} layers it adds a low-rank delta B·A (rank ${c.r}, scaled by alpha/r = ${(c.alpha / c.r).toPrecision(3)}) to the frozen matrix, so W x becomes W x + B A x. B starts at zero, so training starts from the unchanged model; the input and the sequence length stay as they are.`;
    }
  }
}

/** What trains (the method's values) + input embeddings → frozen model → loss → gradients reach only the method's values, with live numbers. */
export function TeachPanel() {
  const model = useStore(app, (s) => s.model);
  const prompt = useStore(app, (s) => s.prompt);
  const train = useStore(app, (s) => s.train);
  const stats = useStore(app, (s) => s.stats);
  const run = useStore(app, (s) => s.run);
  useStore(app, (s) => s.run?.version);
  const [open, setOpen] = useState(true);
  const chosen = useStore(app, (s) => s.method);
  const methods = useStore(app, (s) => s.methods);
  const training = useStore(app, isTraining);
  // The run in progress while one trains; else the method chosen for the next.
  const method = training && run ? run.method : chosen;
  const V = training && run ? run.numVirtualTokens : prompt.numVirtualTokens;
  const H = model?.hiddenSize ?? 0;
  const T = stats ? Math.round(stats.train.mean) : null;
  const h = run?.history;
  const first = h?.loss[0];
  const last = h?.loss.at(-1);
  // The warnings are prompt tuning's (its scale, its share of the context, its size limits).
  const warnings = method === 'prompt' ? teachWarnings(model, prompt, train, stats?.train.mean ?? null) : [];
  return (
    <section className="card teach" aria-labelledby="teach-title" data-testid="teach">
      <header className="card-head">
        <h2 id="teach-title">How {method === 'prompt' ? 'prompt tuning' : methodTitle(method)} works</h2>
        <button className="link small" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          {open ? 'hide' : 'show'}
        </button>
      </header>
      {open && (
        <>
          <div className="flow" aria-label="data flow of one training step">
            <div className="node trainable">
              <b>{method === 'prompt' ? 'Soft prompt' : method === 'prefix' ? 'Prefix (keys, values)' : method === 'p_tuning' ? 'Prompt encoder' : 'LoRA deltas B·A'}</b>
              <span>
                {method === 'prompt'
                  ? `${V} × ${H || 'H'} numbers`
                  : method === 'lora'
                    ? `rank ${methods.lora.r}, in the weights`
                    : method === 'prefix'
                      ? `${methods.prefix.numVirtualTokens} per layer`
                      : `${methods.p_tuning.numVirtualTokens} virtual tokens`}
              </span>
              <small>{method === 'prompt' ? `${formatCount(V * H)} trainable` : 'trainable'}</small>
            </div>
            <div className="plus">+</div>
            <div className="node">
              <b>Input embeddings</b>
              <span>{T !== null ? `~${T} tokens` : 'your examples'}</span>
              <small>looked up, frozen</small>
            </div>
            <div className="arrow">→</div>
            <div className="node frozen">
              <b>Frozen model</b>
              <span>{model ? `${formatShort(model.parameterCount)} params` : '…'}</span>
              <small>{model ? `${model.numLayers} layers, not updated` : 'not updated'}</small>
            </div>
            <div className="arrow">→</div>
            <div className="node loss">
              <b>Loss</b>
              <span>{last !== undefined ? formatLoss(last) : 'on the target tokens'}</span>
              <small>{first !== undefined && last !== undefined ? `started at ${formatLoss(first)}` : 'cross-entropy'}</small>
            </div>
          </div>
          <p className="small where" data-testid="teach-where" data-method={method}>
            {whereItEnters(method, { methods, prompt: run ? { ...prompt, numVirtualTokens: V } : prompt }, model)}
          </p>
          <div className="backprop small">
            ↺ Gradients flow back through the frozen model but update <b>only {method === 'prompt' ? 'the soft prompt' : `the ${methodTitle(method)} values`}</b> (AdamW, lr{' '}
            {training ? (h?.lr.at(-1)?.toExponential(1) ?? train.lr) : train.lr}
            {training ? ' now' : ''}).{method === 'prompt' ? ` The prompt is ${V} vectors the model reads like words, but they need not be any word.` : ''}
          </div>
          {warnings.length > 0 && (
            <ul className="teach-warnings small" data-testid="teach-warnings">
              {warnings.map((w) => (
                <li key={w.id} data-warning={w.id}>
                  {w.text}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
