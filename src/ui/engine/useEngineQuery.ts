import { useEffect, useState, type DependencyList } from 'react';
import { whenEngine } from '../app/engine.ts';
import { errorMessage, type EngineApi } from './client.ts';

/**
 * Asks the engine worker for something the panel shows, again whenever `deps` change; `delayMs`
 * lets typing settle first. An answer that arrives after the inputs changed is dropped, so a
 * slow reply never overwrites a newer one.
 */
export function useEngineQuery<T>(ask: (engine: EngineApi) => Promise<T>, deps: DependencyList, delayMs = 0): { result: T | null; error: string | null } {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const t = setTimeout(async () => {
      try {
        const r = await ask(await whenEngine());
        if (live) {
          setResult(r);
          setError(null);
        }
      } catch (e) {
        if (live) setError(errorMessage(e));
      }
    }, delayMs);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // The callers' dependency lists are checked where they are written (additionalHooks in
    // eslint.config.js); `ask` is a fresh closure each render and must not restart the query.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { result, error };
}
