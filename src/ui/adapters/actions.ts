// The adapters panel's actions (and the runs list's): every read and write of stored runs and
// adapters is a command to the engine worker, IndexedDB's only user.
import { api, whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { toast } from '../app/toasts.ts';
import { errorMessage } from '../engine/client.ts';
import { downloadBytes } from './download.ts';

export async function refreshRunsAndAdapters(): Promise<void> {
  const e = await whenEngine();
  const [runs, adapters] = await Promise.all([e.listRuns(), e.listAdapters()]);
  app.set({ runs, adapters });
}

export function toggleOverlay(runId: string): void {
  app.set((s) => ({ overlay: s.overlay.includes(runId) ? s.overlay.filter((x) => x !== runId) : [...s.overlay, runId] }));
}

export async function deleteRun(runId: string): Promise<void> {
  await api().deleteRun(runId);
  app.set((s) => ({ overlay: s.overlay.filter((x) => x !== runId) }));
  await refreshRunsAndAdapters();
}

export async function setActiveAdapter(id: string | null): Promise<void> {
  try {
    const warnings = await api().setActiveAdapter(id);
    app.set({ activeAdapterId: id, activeWarnings: warnings });
  } catch (e) {
    app.set({ activeAdapterId: null, activeWarnings: [] });
    toast('error', `Could not use that adapter: ${errorMessage(e)}`);
  }
}

export async function renameAdapter(id: string, name: string): Promise<void> {
  await api().renameAdapter(id, name);
  await refreshRunsAndAdapters();
}

/** Makes an adapter a version of a task (an imported one starts with none). */
export async function setAdapterTask(id: string, task: string | null): Promise<void> {
  await api().setAdapterTask(id, task);
  await refreshRunsAndAdapters();
}

export async function deleteAdapter(id: string): Promise<void> {
  if (app.get().activeAdapterId === id) await setActiveAdapter(null);
  await api().deleteAdapter(id);
  await refreshRunsAndAdapters();
}

/** Exports an adapter (PEFT folder + train_peft.py + data) and saves it as one zip. */
export async function downloadAdapterZip(id: string): Promise<void> {
  try {
    const ex = await api().exportAdapter(id);
    downloadBytes(ex.zip, `${ex.folderName}.zip`, 'application/zip');
  } catch (e) {
    toast('error', `Export failed: ${errorMessage(e)}`);
  }
}

export async function importAdapter(files: File[]): Promise<string | null> {
  const uploads = await Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  const name = files.length === 1 ? files[0].name.replace(/\.zip$/i, '') : files[0]?.webkitRelativePath.split('/')[0] || 'imported adapter';
  const result = await api().importAdapter(uploads, `${name} (imported)`);
  await refreshRunsAndAdapters();
  await setActiveAdapter(result.adapterId);
  return result.adapterId;
}
