// A small external store: one state object, shallow updates, React subscribes with selectors.
import { useSyncExternalStore } from 'react';

export interface Store<S> {
  get(): S;
  set(change: Partial<S> | ((s: S) => Partial<S>)): void;
  subscribe(listener: () => void): () => void;
  /** Runs several updates and tells subscribers once. */
  batch(fn: () => void): void;
}

export function createStore<S>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<() => void>();
  let batching = 0;
  let dirty = false;
  const notify = () => {
    if (batching) dirty = true;
    else for (const l of listeners) l();
  };
  return {
    get: () => state,
    set(change) {
      const patch = typeof change === 'function' ? change(state) : change;
      state = { ...state, ...patch };
      notify();
    },
    batch(fn) {
      batching++;
      try {
        fn();
      } finally {
        batching--;
        if (!batching && dirty) {
          dirty = false;
          notify();
        }
      }
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

export function useStore<S, T>(store: Store<S>, select: (s: S) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.get()));
}
