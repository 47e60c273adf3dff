import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSource, parseHubRef } from '../src/engine/io/hub.ts';
import type { FileProgress } from '../src/engine/io/source.ts';
import { loadModel } from '../src/engine/load.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { startHubServer, type HubServer } from './support/hub-server.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';
import { MemoryFileCache } from './support/memory-cache.ts';

let hub: HubServer;

beforeAll(async () => {
  await initNodeBackend();
  hub = await startHubServer([
    { id: 'test-org/tiny-gpt2', dir: path.join(LOCAL_FIXTURES, 'tiny-gpt2') },
    { id: 'test-org/tiny-bloom', dir: path.join(LOCAL_FIXTURES, 'tiny-bloom') },
  ]);
});
afterAll(() => hub.close());

describe('Hub source', () => {
  it('parses ids with and without a pinned revision', () => {
    expect(parseHubRef('org/name')).toEqual({ id: 'org/name', revision: 'main' });
    expect(parseHubRef('org/name@abc123')).toEqual({ id: 'org/name', revision: 'abc123' });
    expect(parseHubRef('gpt2')).toEqual({ id: 'gpt2', revision: 'main' });
    expect(() => parseHubRef('not a/model id')).toThrow(/is not a Hub model id/);
    expect(() => parseHubRef('org/name@')).toThrow(/revision after @ is empty/);
  });

  it('loads a model from {endpoint}/{id}/resolve/{revision}/{file}, reporting progress and the commit', async () => {
    const progress: FileProgress[] = [];
    const source = new HubSource(parseHubRef('test-org/tiny-gpt2'), { endpoint: hub.url });
    const lm = await loadModel(source, (p) => progress.push(p));
    expect(lm.origin).toEqual({ kind: 'hub', id: 'test-org/tiny-gpt2', revision: 'main', commit: hub.commitOf('test-org/tiny-gpt2') });
    expect(hub.requests).toContain('/test-org/tiny-gpt2/resolve/main/model.safetensors');
    const last = progress.filter((p) => p.file === 'model.safetensors').at(-1)!;
    expect(last.loaded).toBe(last.total);
    expect(last.total).toBeGreaterThan(100_000);
    lm.dispose();
  });

  it('fetches a pinned revision', async () => {
    const commit = hub.commitOf('test-org/tiny-bloom');
    const lm = await loadModel(new HubSource(parseHubRef(`test-org/tiny-bloom@${commit}`), { endpoint: hub.url }));
    expect(lm.origin.commit).toBe(commit);
    expect(hub.requests).toContain(`/test-org/tiny-bloom/resolve/${commit}/config.json`);
    lm.dispose();
  });

  it('says when the model or the revision does not exist, or the server is unreachable', async () => {
    await expect(loadModel(new HubSource(parseHubRef('test-org/nope'), { endpoint: hub.url }))).rejects.toThrow('test-org/nope: no such model on');
    await expect(loadModel(new HubSource(parseHubRef('test-org/tiny-gpt2@v9'), { endpoint: hub.url }))).rejects.toThrow('revision "v9" does not exist');
    await expect(loadModel(new HubSource(parseHubRef('test-org/tiny-gpt2'), { endpoint: 'http://127.0.0.1:9' }))).rejects.toThrow(/could not reach http:\/\/127.0.0.1:9/);
  });

  it('reuses cached files instead of downloading them again', async () => {
    const cache = new MemoryFileCache();
    const source = () => new HubSource(parseHubRef('test-org/tiny-gpt2'), { endpoint: hub.url, cache });
    (await loadModel(source())).dispose();
    const before = hub.requests.filter((r) => r.endsWith('model.safetensors')).length;
    (await loadModel(source())).dispose();
    expect(hub.requests.filter((r) => r.endsWith('model.safetensors')).length).toBe(before);
    expect(cache.files.size).toBeGreaterThanOrEqual(4);
  });
});
