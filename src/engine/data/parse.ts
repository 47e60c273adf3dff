// Dataset files → rows of named string fields. Errors name the file and the line.

export type Row = Record<string, string>;

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export function parseJsonl(text: string, file: string): Row[] {
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new DataError(`${file}:${i + 1}: each line must be a JSON object, got ${JSON.stringify(value).slice(0, 40)}`);
    rows.push(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cell(v)])));
  });
  if (rows.length === 0) throw new DataError(`${file}: no rows`);
  return rows;
}

/** RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes); the first row names the columns. */
export function parseCsv(text: string, file: string, delimiter = ','): Row[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += ch;
  }
  if (quoted) throw new DataError(`${file}:${recordLine}: quoted field is never closed`);
  if (field !== '' || fields.length) endRecord();
  if (records.length < 2) throw new DataError(`${file}: needs a header row and at least one data row`);
  const header = records[0].fields.map((h) => h.trim());
  const dup = header.find((h, j) => header.indexOf(h) !== j);
  if (dup !== undefined) throw new DataError(`${file}:1: column "${dup}" appears twice in the header`);
  return records.slice(1).map(({ fields: f, line: l }) => {
    if (f.length !== header.length) throw new DataError(`${file}:${l}: has ${f.length} fields, the header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, f[j]]));
  });
}

/** Picks the parser from the file name (.jsonl/.json/.csv/.tsv), else from the content. */
export function parseDataset(text: string, file: string): Row[] {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return parseCsv(text, file);
  if (lower.endsWith('.tsv')) return parseCsv(text, file, '\t');
  if (lower.endsWith('.json') && text.trimStart().startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    return parseJsonl((value as unknown[]).map((v) => JSON.stringify(v)).join('\n'), file);
  }
  if (lower.endsWith('.jsonl') || lower.endsWith('.json') || text.trimStart().startsWith('{')) return parseJsonl(text, file);
  return parseCsv(text, file);
}
