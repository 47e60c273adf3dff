import { DEFAULT_HUB_ENDPOINT } from './models.ts';
import { useState } from 'react';
import { loadModel } from './actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { requestPersistentStorage } from './CacheInfo.tsx';
import { HUB_SUGGESTIONS } from './models.ts';

/** A Hub model by id, pinned to a revision (branch, tag or commit). */
export function HubForm({ disabled }: { disabled: boolean }) {
  const endpoint = useStore(app, (s) => s.hubEndpoint);
  const [id, setId] = useState('');
  const [revision, setRevision] = useState('main');
  const [token, setToken] = useState('');
  const ref = `${id.trim()}@${revision.trim() || 'main'}`;
  const submit = () => {
    if (!id.trim()) return;
    // Downloads are kept in Cache Storage; without persistence the browser may evict them.
    void requestPersistentStorage();
    void loadModel({ kind: 'hub', ref, endpoint: endpoint.trim() || DEFAULT_HUB_ENDPOINT, ...(token.trim() ? { token: token.trim() } : {}) });
  };
  return (
    <form
      className="hub-form"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <div className="row gap">
        <div className="field grow">
          <label htmlFor="hub-id">Model id</label>
          <input id="hub-id" data-testid="hub-id" placeholder="org/name, e.g. HuggingFaceTB/SmolLM2-135M" value={id} onChange={(e) => setId(e.target.value)} spellCheck={false} autoComplete="off" />
        </div>
        <div className="field" style={{ width: '8rem' }}>
          <label htmlFor="hub-rev">Revision</label>
          <input
            id="hub-rev"
            data-testid="hub-revision"
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
            spellCheck={false}
            title="A branch, tag or commit. The commit actually read is pinned in the adapter."
          />
        </div>
      </div>
      <div className="suggestions" aria-label="Suggested models that fit a browser">
        {HUB_SUGGESTIONS.map((s) => (
          <button type="button" key={s.id} className="chip" onClick={() => setId(s.id)} title={s.note}>
            {s.id.split('/')[1]} <span className="muted">{s.params}</span>
          </button>
        ))}
      </div>
      <details className="advanced">
        <summary>Endpoint and token</summary>
        <div className="field">
          <label htmlFor="hub-endpoint">Hub endpoint</label>
          <input id="hub-endpoint" data-testid="hub-endpoint" value={endpoint} onChange={(e) => app.set({ hubEndpoint: e.target.value })} spellCheck={false} />
          <div className="hint">Any server with the Hub's URL layout (a mirror, or a local test server).</div>
        </div>
        <div className="field">
          <label htmlFor="hub-token">Access token (gated or private models)</label>
          <input id="hub-token" type="password" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" />
          <div className="hint">Sent only to the endpoint above, kept only in this page's memory.</div>
        </div>
      </details>
      <button type="submit" className="primary" data-testid="hub-load" disabled={disabled || !id.trim()}>
        Download and load
      </button>
      <p className="hint">
        Files are kept in the browser cache and reused next time. Models need safetensors weights and a tokenizer.json; GPT-2, Llama/SmolLM, Qwen2/Qwen3, Mistral, Phi-3, OLMo 2, Gemma 1-3 and BLOOM
        families run.
      </p>
    </form>
  );
}
