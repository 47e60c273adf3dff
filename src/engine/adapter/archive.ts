// Adapter folders as zip archives (export) and uploaded files or zips as an adapter's files (import).
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { AdapterError } from './peft-config.ts';
import { CONFIG_FILE } from './adapter.ts';

/** A zip holding `folder/<file>` for every file (the layout `PeftModel.from_pretrained(folder)` reads). */
export function zipFolder(folder: string, files: Record<string, Uint8Array>): Uint8Array {
  const tree: Zippable = {};
  for (const [name, bytes] of Object.entries(files)) tree[`${folder}/${name}`] = [bytes, { level: name.endsWith('.safetensors') ? 0 : 6 }];
  return zipSync(tree, { mtime: new Date('2024-01-01T00:00:00Z') });
}

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

const isZip = (f: NamedBytes) => f.name.toLowerCase().endsWith('.zip') || (f.bytes[0] === 0x50 && f.bytes[1] === 0x4b && f.bytes[2] === 0x03 && f.bytes[3] === 0x04);

/**
 * The files of one adapter, by base name, from uploaded files and/or zip archives. A zip may
 * hold the files at its root or inside one folder; macOS metadata entries are skipped.
 */
export function adapterFilesFromUploads(uploads: NamedBytes[]): Record<string, Uint8Array> {
  if (uploads.length === 0) throw new AdapterError('no files were given');
  const out: Record<string, Uint8Array> = {};
  const origin: Record<string, string> = {};
  const add = (path: string, bytes: Uint8Array, from: string) => {
    const base = path.split('/').pop() as string;
    if (!base || path.startsWith('__MACOSX/') || base.startsWith('._')) return;
    if (base === CONFIG_FILE && out[base] && origin[base] !== path) {
      throw new AdapterError(`${from} holds more than one ${CONFIG_FILE} (${origin[base]} and ${path}): import one adapter at a time`);
    }
    out[base] = bytes;
    origin[base] = path;
  };
  for (const f of uploads) {
    if (!isZip(f)) {
      add(f.name, f.bytes, f.name);
      continue;
    }
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(f.bytes);
    } catch (e) {
      throw new AdapterError(`${f.name}: not a readable zip archive (${(e as Error).message})`);
    }
    const names = Object.keys(entries).filter((n) => !n.endsWith('/'));
    if (names.length === 0) throw new AdapterError(`${f.name}: the zip archive is empty`);
    for (const n of names) add(n, entries[n], f.name);
  }
  return out;
}
