import type { ModelInfo } from '../../worker/protocol.ts';
import { formatBytes, formatCount, formatDuration, formatShort } from '../common/format.ts';

export function ModelFacts({ model }: { model: ModelInfo }) {
  const o = model.origin;
  const source =
    model.ref.kind === 'hub' ? (
      <>
        Hub <b>{o.id}</b> @ {o.revision}
        {o.commit && o.commit !== o.revision ? (
          <>
            {' '}
            → commit <code title={o.commit}>{o.commit.slice(0, 10)}</code>
          </>
        ) : null}
      </>
    ) : model.ref.kind === 'embedded' ? (
      <>built into the playground</>
    ) : (
      <>local folder</>
    );
  return (
    <div className="model-facts" data-testid="model-facts">
      <div className="model-title">
        <span className="model-name">{o.id}</span>
        <span className="badge">{model.architecture ?? model.modelType}</span>
      </div>
      <div className="muted small" data-testid="model-source">
        {source}
      </div>
      <dl className="facts">
        <div>
          <dt>Parameters</dt>
          <dd title={formatCount(model.parameterCount)}>{formatShort(model.parameterCount)}</dd>
        </div>
        <div>
          <dt>Hidden size</dt>
          <dd>{model.hiddenSize}</dd>
        </div>
        <div>
          <dt>Layers × heads</dt>
          <dd>
            {model.numLayers} × {model.numHeads}
          </dd>
        </div>
        <div>
          <dt>Context</dt>
          <dd>{formatCount(model.contextLength)} tokens</dd>
        </div>
        <div>
          <dt>Vocabulary</dt>
          <dd>{formatCount(model.vocabSize)}</dd>
        </div>
        <div>
          <dt>Weight memory</dt>
          <dd title="float32, as the backend holds them">{formatBytes(model.weightBytes)}</dd>
        </div>
      </dl>
      <div className="muted small">
        Loaded in {formatDuration(model.loadSeconds)}
        {model.downloadedBytes > 0 ? ` · ${formatBytes(model.downloadedBytes)} downloaded` : ''}
        {model.cachedBytes > 0 ? ` · ${formatBytes(model.cachedBytes)} from the browser cache` : ''}
      </div>
    </div>
  );
}
