// A FileCache in memory with the contract of the browser's Cache Storage one: files are kept as
// the pieces they arrived in (no whole-file buffer), only a write that completes is kept, and a
// write over the byte budget is refused and recorded, as a quota would be.
import type { CacheWriter, FileCache } from '../../src/engine/io/hub.ts';
import type { ByteStream } from '../../src/engine/io/source.ts';

export class MemoryFileCache implements FileCache {
  readonly files = new Map<string, Uint8Array[]>();
  readonly missing = new Set<string>();
  readonly problems: { file: string; message: string }[] = [];
  constructor(private readonly budget = Infinity) {}

  used(): number {
    let n = 0;
    for (const parts of this.files.values()) for (const p of parts) n += p.byteLength;
    return n;
  }

  async get(url: string): Promise<ByteStream | null> {
    const parts = this.files.get(url);
    if (!parts) return null;
    async function* chunks() {
      for (const p of parts as Uint8Array[]) yield p;
    }
    return { size: parts.reduce((a, p) => a + p.byteLength, 0), chunks: chunks() };
  }

  async writer(url: string, file: string): Promise<CacheWriter | null> {
    const parts: Uint8Array[] = [];
    let size = 0;
    let dead = false;
    return {
      write: async (chunk) => {
        if (dead) return;
        size += chunk.byteLength;
        if (this.used() + size > this.budget) {
          dead = true;
          this.problems.push({ file, message: `quota exceeded at ${size} bytes` });
          return;
        }
        // A copy: the caller's pieces may be views into buffers it reuses.
        parts.push(chunk.slice());
      },
      close: async () => {
        if (!dead) this.files.set(url, parts);
      },
      abort: async () => {
        dead = true;
      },
    };
  }

  async setMissing(url: string): Promise<void> {
    this.missing.add(url);
  }

  async isMissing(url: string): Promise<boolean> {
    return this.missing.has(url);
  }
}
