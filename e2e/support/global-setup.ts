// Builds the app, serves it with `vite preview` (COOP/COEP headers included) on 127.0.0.1, and
// starts a local server in the Hub's URL layout for the Hub code path.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { build, preview, type PreviewServer } from 'vite';
import { startHubServer, type HubServer } from '../../test/support/hub-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    hubUrl: string;
    hubCommit: string;
  }
}

export const HUB_MODEL = 'test-org/tiny-gpt2';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = path.resolve(import.meta.dirname, '../..');
  if (!process.env.E2E_NO_BUILD) await build({ root, logLevel: 'warn' });
  const server: PreviewServer = await preview({ root, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
  const hub: HubServer = await startHubServer([{ id: HUB_MODEL, dir: path.join(root, 'test/fixtures/tiny-gpt2') }]);
  project.provide('baseUrl', `http://127.0.0.1:${address.port}/`);
  project.provide('hubUrl', hub.url);
  project.provide('hubCommit', hub.commitOf(HUB_MODEL));
  return async () => {
    await hub.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  };
}
