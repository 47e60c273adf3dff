import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AdapterError } from '../engine/adapter/peft-config.ts';
import { readAdapter, type PromptAdapter } from '../engine/adapter/adapter.ts';
import { readMethodAdapter, type MethodAdapter } from '../engine/adapter/method-adapter.ts';

/** The files of an adapter folder by name. */
function folderFiles(dir: string): Record<string, Uint8Array> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AdapterError(`adapter folder ${dir} does not exist`);
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isFile()) files[name] = new Uint8Array(readFileSync(full));
  }
  return files;
}

/** A prompt-tuning (or P-tuning, as its prompt) adapter folder. */
export function readAdapterFolder(dir: string): PromptAdapter {
  return withFolder(dir, () => readAdapter(folderFiles(dir)));
}

/** Any method's adapter folder. */
export function readMethodAdapterFolder(dir: string): MethodAdapter {
  return withFolder(dir, () => readMethodAdapter(folderFiles(dir)));
}

function withFolder<T>(dir: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof AdapterError) throw new AdapterError(`${dir}: ${e.message}`);
    throw e;
  }
}

export function writeFolder(dir: string, files: Record<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
}
