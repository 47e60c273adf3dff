// The engine worker starts before the app's modules are even fetched: see prespawnEngineWorker.
import { prespawnEngineWorker } from './ui/engine/client.ts';

prespawnEngineWorker();
const { mountApp } = await import('./ui/app/mount.tsx');
mountApp();
