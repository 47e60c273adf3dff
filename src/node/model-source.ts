import { existsSync, statSync } from 'node:fs';
import { HubSource, parseHubRef } from '../engine/io/hub.ts';
import type { ModelSource } from '../engine/io/source.ts';
import { FolderSource } from './folder-source.ts';

/** A folder path if one exists there, else a Hub id (`org/name@revision`) fetched from HF_ENDPOINT. */
export function modelSource(spec: string): ModelSource {
  if (existsSync(spec) && statSync(spec).isDirectory()) return new FolderSource(spec);
  if (spec.startsWith('.') || spec.startsWith('/')) throw new Error(`model folder ${spec} does not exist`);
  return new HubSource(parseHubRef(spec), { endpoint: process.env.HF_ENDPOINT || undefined, token: process.env.HF_TOKEN || undefined });
}
