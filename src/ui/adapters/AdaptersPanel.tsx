import { setActiveAdapter } from './actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { Callout } from '../common/ui.tsx';
import { AdapterCard } from './AdapterCard.tsx';
import { ImportAdapter } from './ImportAdapter.tsx';
import { TaskVersions } from './TaskVersions.tsx';

export function AdaptersPanel() {
  const adapters = useStore(app, (s) => s.adapters);
  const runs = useStore(app, (s) => s.runs);
  const activeId = useStore(app, (s) => s.activeAdapterId);
  const warnings = useStore(app, (s) => s.activeWarnings);
  const model = useStore(app, (s) => s.model);
  // A task is a dataset name: the versions of each are its adapters, oldest first.
  const tasks = [...new Set(adapters.flatMap((a) => (a.task ? [a.task] : [])))];
  const taskChoices = [...new Set([...tasks, ...runs.filter((r) => r.spec.data.mapping.kind === 'label').map((r) => r.spec.data.name)])];
  return (
    <div className="adapters-panel">
      <p className="small muted">
        Every trained or imported soft prompt is kept in this browser (IndexedDB) with its config, base model, metrics and loss curve. The zip is a PEFT folder:{' '}
        <code>PeftModel.from_pretrained(base, folder)</code> loads it unchanged; it also holds <code>train_peft.py</code> and the dataset to continue on GPUs.
      </p>
      <ImportAdapter />
      {activeId && warnings.length > 0 && (
        <Callout kind="warning">
          The active adapter does not quite match the loaded model:
          <ul>
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Callout>
      )}
      {tasks.map((t) => (
        <TaskVersions key={t} task={t} />
      ))}
      {adapters.length === 0 ? (
        <p className="muted">No adapters yet. Train one, or import one.</p>
      ) : (
        <ul className="adapter-list" data-testid="adapter-list">
          {adapters.map((a) => (
            <AdapterCard
              key={a.id}
              adapter={a}
              active={a.id === activeId}
              canUse={model !== null && a.config.tokenDim === model.hiddenSize}
              curve={runs.find((r) => r.id === a.runId)?.history.loss ?? []}
              tasks={taskChoices}
            />
          ))}
        </ul>
      )}
      {activeId && (
        <button className="link small" onClick={() => void setActiveAdapter(null)}>
          Use no adapter
        </button>
      )}
    </div>
  );
}
