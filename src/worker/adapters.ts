// The adapters of this browser: the records IndexedDB keeps (src/store) and those it refused to
// store (quota), which stay usable and downloadable in the worker for the session. Listing,
// renaming, deleting, importing, keeping a checkpoint as one, applying one, exporting its bundle.
import { baseWarnings, checkAdapterFits, CONFIG_FILE, readAdapter } from '../engine/adapter/adapter.ts';
import { adapterFilesFromUploads, zipFolder } from '../engine/adapter/archive.ts';
import { readMethodAdapter, trainableValues } from '../engine/adapter/method-adapter.ts';
import { Tuning } from '../engine/methods/index.ts';
import { exportBundle } from '../engine/run/export.ts';
import type { MeasuredAccuracy } from '../engine/run/spec.ts';
import type { SuiteScore } from '../engine/run/suite.ts';
import * as store from '../store/db.ts';
import { historyUpTo, newAdapterRecord, summaryOf, type AdapterRecord, type AdapterSummary } from '../store/records.ts';
import { EngineError } from './engine-error.ts';
import { applyRecord, exportOf, fits, recordConfig, summaryConfig, type Applied } from './method-records.ts';
import type { ModelSession } from './model-session.ts';
import type { ExportedAdapter, ImportedAdapter } from './protocol.ts';

/** The peft_type an uploaded adapter_config.json names ('' when it names none or is unreadable). */
function peftTypeOf(files: Record<string, Uint8Array>): string {
  try {
    const j = JSON.parse(new TextDecoder().decode(files[CONFIG_FILE])) as Record<string, unknown>;
    return String(j.peft_type ?? '').replace(/^PeftType\./, '');
  } catch {
    return '';
  }
}

export class Adapters {
  /** Adapters IndexedDB could not store (quota): still usable and downloadable this session. */
  private readonly unsaved = new Map<string, AdapterRecord>();

  constructor(
    private readonly session: ModelSession,
    /** The files of a built-in model, to ship beside its adapters ({} when unknown). */
    private readonly embeddedFiles: (url: string) => Promise<Record<string, Uint8Array>>,
  ) {}

  /** Holds an adapter IndexedDB refused, so it can still be used and downloaded. */
  keepUnsaved(a: AdapterRecord): void {
    this.unsaved.set(a.id, a);
  }

  async list(): Promise<AdapterSummary[]> {
    const stored = (await store.listAdapters()).map(summaryOf);
    return [...[...this.unsaved.values()].map(summaryOf), ...stored.filter((a) => !this.unsaved.has(a.id))];
  }

  async get(id: string): Promise<AdapterRecord> {
    const a = this.unsaved.get(id) ?? (await store.getAdapter(id));
    if (!a) throw new EngineError(`adapter ${id} is not in this browser's storage any more`);
    return a;
  }

  async rename(id: string, name: string): Promise<void> {
    const kept = this.unsaved.get(id);
    if (kept) kept.name = name;
    else await store.updateAdapter(id, { name });
  }

  async delete(id: string): Promise<void> {
    if (this.session.activeId === id) this.session.setActive(null);
    this.unsaved.delete(id);
    await store.deleteAdapter(id);
  }

  /** An adapter of any method on the loaded model: its record, what enters the forward pass (the caller disposes it) and the warnings. */
  async apply(id: string): Promise<Applied & { record: AdapterRecord }> {
    const record = await this.get(id);
    return { record, ...applyRecord(this.session.need(), record) };
  }

  /** Makes an adapter the one "try it", evaluation and inspection use (no model reload); its warnings. */
  async setActive(id: string | null): Promise<string[]> {
    if (id === null) {
      this.session.setActive(null);
      return [];
    }
    const applied = applyRecord(this.session.need(), await this.get(id));
    this.session.setActive({ id, dispose: applied.dispose });
    return applied.warnings;
  }

  /** Keeps an evaluation's accuracy with the adapter (and the rows it was measured on). */
  async setAccuracy(id: string, accuracy: MeasuredAccuracy): Promise<void> {
    const kept = this.unsaved.get(id);
    if (kept) kept.metrics.accuracy = accuracy;
    else await store.updateAdapter(id, { metrics: { accuracy } });
  }

  /** Keeps its score on its task's suite with the adapter. */
  async setSuiteScore(id: string, suite: SuiteScore): Promise<void> {
    const kept = this.unsaved.get(id);
    if (kept) kept.metrics.suite = suite;
    else await store.updateAdapter(id, { metrics: { suite } });
  }

  /** Makes the adapter a version of `task` (null: of none). */
  async setTask(id: string, task: string | null): Promise<void> {
    const kept = this.unsaved.get(id);
    if (kept) kept.task = task;
    else await store.updateAdapter(id, { task });
  }

  /**
   * Reads a PEFT adapter of any method from uploaded files or a zip, checks it against the loaded
   * model and stores it. Prompt tuning, and P-tuning without the playground's encoder state, are
   * stored as their soft prompt (as PEFT's files hold it); a P-tuning or projected-prefix folder with
   * playground_state.safetensors keeps its method and every trained value; a projected prefix
   * without it is stored as the plain prefix it produces (its inference form).
   */
  async import(uploads: { name: string; bytes: Uint8Array }[], displayName: string): Promise<ImportedAdapter> {
    const files = adapterFilesFromUploads(uploads);
    const lm = this.session.need();
    const peftType = peftTypeOf(files);
    const methodFolder = peftType === 'PREFIX_TUNING' || peftType === 'LORA' || (peftType === 'P_TUNING' && readMethodAdapter(files).state !== null);
    let record: AdapterRecord;
    let warnings: string[];
    if (!methodFolder) {
      const adapter = readAdapter(files);
      warnings = checkAdapterFits(adapter, lm.model.config, lm.origin);
      const c = adapter.config;
      const model = { kind: lm.origin.kind, id: c.baseModel ?? lm.origin.id, revision: c.revision, commit: c.revision };
      record = newAdapterRecord({ name: displayName, source: 'imported', config: c, model, prompt: adapter.promptEmbeddings, importedFrom: uploads.map((u) => u.name), warnings });
    } else {
      const adapter = readMethodAdapter(files);
      warnings = baseWarnings(adapter.meta.baseModel, adapter.meta.revision, lm.origin);
      const { tuning, values } = fits(() => {
        const declared = new Tuning(lm.model, adapter.config);
        if (adapter.state) return { tuning: declared, values: trainableValues(adapter, declared) };
        return declared.fromSaved(adapter.saved);
      });
      if (adapter.config.method === 'prefix' && adapter.config.prefixProjection && !adapter.state) {
        warnings.push(
          `this ${adapter.config.method} adapter was trained through a projection, and its folder keeps only the prefix it produced (no playground_state.safetensors): it is stored as that plain prefix, which gives the same outputs but trains on from the prefix, not the projection`,
        );
      }
      const { meta } = adapter;
      const model = { kind: lm.origin.kind, id: meta.baseModel ?? lm.origin.id, revision: meta.revision, commit: meta.revision };
      record = newAdapterRecord({
        name: displayName,
        source: 'imported',
        config: summaryConfig(tuning, meta),
        method: tuning.config,
        model,
        prompt: values,
        metrics: { trainableParams: tuning.size },
        importedFrom: uploads.map((u) => u.name),
        warnings,
      });
      // The values must make an injection on this model (shapes were checked; this checks the rest).
      applyRecord(lm, record).dispose();
    }
    await store.putAdapter(record);
    return { adapterId: record.id, warnings };
  }

  /** Keeps a checkpoint's prompt as an adapter (for an interrupted run the user does not resume). */
  async fromCheckpoint(runId: string): Promise<string> {
    const run = await store.getRun(runId);
    const checkpoint = await store.getCheckpoint(runId);
    if (!run || !checkpoint) throw new EngineError('that run has no checkpoint');
    const lm = this.session.need();
    this.session.checkModelFor(run);
    const h = historyUpTo(run.history, checkpoint.step);
    const record = newAdapterRecord({
      name: `${run.spec.label} (checkpoint, step ${checkpoint.step})`,
      source: 'checkpoint',
      runId,
      ...recordConfig(lm, run.spec.method, checkpoint.prompt, run.spec.prompt),
      model: lm.origin,
      metrics: { steps: checkpoint.step, finalLoss: h.loss.at(-1) ?? null, bestValLoss: checkpoint.bestValLoss, stopReason: 'stopped', backend: run.backend },
      prompt: checkpoint.prompt,
      initPrompt: run.initPrompt,
      initIds: run.initIds,
      lossCurve: { step: h.step, loss: h.loss },
    });
    await store.putAdapter(record);
    await store.putRun({ ...run, status: 'stopped', statusMessage: `kept the checkpoint of step ${checkpoint.step} as an adapter`, adapterId: record.id });
    return record.id;
  }

  /** The PEFT folder (+ train_peft.py, the dataset and its split) as files and as one zip. */
  async export(id: string): Promise<ExportedAdapter> {
    const a = await this.get(id);
    const run = a.runId ? await store.getRun(a.runId) : undefined;
    const dataset = run ? await store.getDataset(run.spec.data.datasetId) : undefined;
    const suite = a.task ? await store.getSuite(a.task) : undefined;
    // A built-in model exists nowhere but on this server: ship it beside the adapter.
    const ref = this.session.info?.ref;
    const baseModelFiles = ref?.kind === 'embedded' && a.model.kind === 'folder' && ref.name === a.model.id ? await this.embeddedFiles(ref.url) : undefined;
    const { files, folderName } = exportBundle({
      name: a.name,
      adapter: exportOf(a, this.session.info ? this.session.need().model : null),
      baseKind: a.model.kind,
      metrics: { finalLoss: a.metrics.finalLoss, bestValLoss: a.metrics.bestValLoss, accuracy: a.metrics.accuracy, trainedOn: a.metrics.backend ? `${a.metrics.backend} in the browser` : null },
      ...(run && dataset
        ? {
            run: {
              dataName: run.spec.data.name,
              mapping: run.spec.data.mapping,
              prompt: run.spec.prompt,
              train: run.spec.train,
              split: run.split,
              evalEvery: run.evalEvery,
              steps: a.metrics.steps ?? run.stepsDone,
              rows: dataset.rows,
              testRows: dataset.testRows,
              contextLength: this.session.info?.contextLength ?? null,
            },
          }
        : {}),
      baseModelFiles,
      ...(suite ? { suite: { suite, score: a.metrics.suite ?? null } } : {}),
    });
    return { files, zip: zipFolder(folderName, files), folderName };
  }
}
