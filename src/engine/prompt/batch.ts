/** One batch in the layout of SPEC.md's cases: B rows of T tokens, right padded. */
export interface Batch {
  inputIds: number[][];
  attentionMask: number[][];
  /** -100 where no loss is taken. */
  labels: number[][];
}

export const IGNORE_INDEX = -100;

export class BatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchError';
  }
}

/** Checks shapes and ranges so a malformed batch fails with a message, not a tensor error. */
export function validateBatch(batch: Batch, vocabSize: number, where = 'batch'): void {
  const { inputIds, attentionMask, labels } = batch;
  if (!Array.isArray(inputIds) || inputIds.length === 0) throw new BatchError(`${where}: input_ids must be a non-empty list of rows`);
  const T = inputIds[0]?.length;
  if (!T) throw new BatchError(`${where}: input_ids rows must not be empty`);
  const check = (name: string, rows: unknown, ok: (v: number) => boolean, what: string) => {
    if (!Array.isArray(rows) || rows.length !== inputIds.length) throw new BatchError(`${where}: ${name} must have ${inputIds.length} rows like input_ids`);
    rows.forEach((row: unknown, b) => {
      if (!Array.isArray(row) || row.length !== T) throw new BatchError(`${where}: ${name}[${b}] must have ${T} entries (rows must be padded to one length)`);
      row.forEach((v: unknown, t) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || !ok(v)) throw new BatchError(`${where}: ${name}[${b}][${t}] = ${JSON.stringify(v)} is not ${what}`);
      });
    });
  };
  check('input_ids', inputIds, (v) => v >= 0 && v < vocabSize, `a token id in [0, ${vocabSize})`);
  check('attention_mask', attentionMask, (v) => v === 0 || v === 1, '0 or 1');
  check('labels', labels, (v) => v === IGNORE_INDEX || (v >= 0 && v < vocabSize), `-100 or a token id in [0, ${vocabSize})`);
}

/** Reads a batch written with SPEC.md's snake_case keys. */
export function batchFromJson(json: unknown, where: string): Batch {
  if (!json || typeof json !== 'object') throw new BatchError(`${where}: expected an object with input_ids, attention_mask, labels`);
  const j = json as Record<string, unknown>;
  if (!Array.isArray(j.input_ids)) throw new BatchError(`${where}: missing input_ids`);
  const ids = j.input_ids as number[][];
  const mask = (j.attention_mask ?? ids.map((r) => r.map(() => 1))) as number[][];
  if (j.labels === undefined) throw new BatchError(`${where}: missing labels`);
  return { inputIds: ids, attentionMask: mask, labels: j.labels as number[][] };
}
