import { useRef, useState } from 'react';
import { loadModel } from './actions.ts';

interface PickedFile {
  path: string;
  file: File;
}

async function entryFiles(entry: FileSystemEntry, prefix = ''): Promise<PickedFile[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ path: prefix + entry.name, file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: PickedFile[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) out.push(...(await entryFiles(child, `${prefix}${entry.name}/`)));
  }
  return out;
}

/** A model folder from disk: directory picker or drag and drop. Nothing is uploaded anywhere. */
export function LocalFolder({ disabled }: { disabled: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const load = (name: string, files: PickedFile[]) => {
    if (!files.some((f) => f.path.endsWith('config.json'))) {
      setProblem(`${name} has no config.json: pick the folder that holds config.json, tokenizer.json and the .safetensors weights.`);
      return;
    }
    setProblem(null);
    void loadModel({ kind: 'files', name, files });
  };
  return (
    <div>
      <div
        className={`dropzone ${over ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={async (e) => {
          e.preventDefault();
          setOver(false);
          const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
          const files = (await Promise.all(entries.map((en) => entryFiles(en)))).flat();
          const name = entries.length === 1 && entries[0].isDirectory ? entries[0].name : 'dropped files';
          load(name, files);
        }}
      >
        <p>
          Drop a model folder here, or{' '}
          <button type="button" className="link" disabled={disabled} onClick={() => input.current?.click()}>
            choose a folder
          </button>
        </p>
        <p className="hint">config.json, tokenizer.json (+ tokenizer_config.json) and model.safetensors (or shards with their index). The files stay on your computer.</p>
      </div>
      <input
        ref={input}
        type="file"
        hidden
        multiple
        webkitdirectory=""
        onChange={(e) => {
          const list = [...(e.target.files ?? [])];
          if (list.length === 0) return;
          const name = list[0].webkitRelativePath.split('/')[0] || 'local folder';
          load(
            name,
            list.map((file) => ({ path: file.webkitRelativePath || file.name, file })),
          );
          e.target.value = '';
        }}
      />
      {problem && <p className="bad small">{problem}</p>}
    </div>
  );
}
