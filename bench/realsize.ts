// The real-size rows: random-weight checkpoints with the exact configs and dtypes of three Hub
// repos (scripts/realsize/make_checkpoints.py writes them to /work/big/realsize, never to git),
// served by a local server in the Hub's URL layout and loaded through the engine's Hub code path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const REALSIZE_DIR = process.env.REALSIZE_DIR ?? '/work/big/realsize';

/** Row name → Hub repo id; the folder is REALSIZE_DIR/<row name>. */
export const REALSIZE_REPOS: Record<string, string> = {
  'SmolLM2-135M': 'HuggingFaceTB/SmolLM2-135M',
  'Qwen2.5-0.5B': 'Qwen/Qwen2.5-0.5B',
  'bloomz-560m': 'bigscience/bloomz-560m',
};

export function realsizeDir(model: string, dir = REALSIZE_DIR): string | null {
  const d = path.join(dir, model);
  return REALSIZE_REPOS[model] && existsSync(path.join(d, 'config.json')) ? d : null;
}

export function realsizeConfig(model: string, dir = REALSIZE_DIR): Record<string, unknown> | null {
  const d = realsizeDir(model, dir);
  return d ? (JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8')) as Record<string, unknown>) : null;
}

export function realsizeFileBytes(model: string, dir = REALSIZE_DIR): number | null {
  const d = realsizeDir(model, dir);
  return d ? statSync(path.join(d, 'model.safetensors')).size : null;
}
