import { discardRecovered, keepRecoveredCheckpoint, resumeRecovered } from './actions.ts';
import { restartEngine } from '../app/engine.ts';
import { app, isTraining } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { timeAgo } from '../common/format.ts';

/** After a reload, a crash or a device loss: what happened, and the way back to the trained prompt. */
export function RecoveryBanner() {
  const rec = useStore(app, (s) => s.recovery);
  const deviceLost = useStore(app, (s) => s.deviceLost);
  const backend = useStore(app, (s) => s.backend);
  const engineError = useStore(app, (s) => s.engineError);
  const engineStatus = useStore(app, (s) => s.engineStatus);
  const training = useStore(app, isTraining);
  const modelReady = useStore(app, (s) => s.modelStatus === 'ready');
  return (
    <>
      {deviceLost && (
        <div className="banner banner-error" role="alert" data-testid="device-lost">
          <div>
            <b>The WebGPU device was lost</b> ({deviceLost}). This happens when the GPU driver resets, the GPU is needed elsewhere, or memory runs out. The last checkpoint is safe in this browser.
          </div>
          <div className="row gap">
            <button className="primary" onClick={() => void restartEngine('webgpu')} disabled={engineStatus === 'restarting'}>
              Restart on WebGPU
            </button>
            <button className="secondary" onClick={() => void restartEngine('wasm')} disabled={engineStatus === 'restarting'}>
              Restart on WASM
            </button>
          </div>
        </div>
      )}
      {engineError && !deviceLost && (
        <div className="banner banner-error" role="alert">
          <div>{engineError}</div>
          <button className="primary" onClick={() => void restartEngine(backend?.name ?? 'wasm')}>
            Restart the engine
          </button>
        </div>
      )}
      {rec && !training && !deviceLost && (
        <div className="banner banner-warning" role="status" data-testid="recovery">
          <div>
            <b>The run “{rec.run.spec.label}” did not finish</b> (step {rec.run.stepsDone} of {rec.run.totalSteps}). {rec.reason}{' '}
            {rec.checkpoint ? `Its last checkpoint is from step ${rec.checkpoint.step}, ${timeAgo(rec.checkpoint.savedAt)}.` : 'It had not written a checkpoint yet.'}
          </div>
          <div className="row gap">
            <button className="primary" data-testid="recovery-resume" disabled={engineStatus !== 'ready'} onClick={() => void resumeRecovered()}>
              {rec.checkpoint ? `Resume from step ${rec.checkpoint.step}` : 'Start it again'}
            </button>
            {rec.checkpoint && (
              <button className="secondary" disabled={!modelReady} onClick={() => void keepRecoveredCheckpoint()}>
                Keep the checkpoint as an adapter
              </button>
            )}
            <button className="link" onClick={() => void discardRecovered()}>
              Discard
            </button>
          </div>
        </div>
      )}
    </>
  );
}
