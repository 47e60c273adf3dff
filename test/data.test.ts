import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collate, epochBatches, splitTrainVal } from '../src/engine/data/batches.ts';
import { encodeExample, lengthStats } from '../src/engine/data/encode.ts';
import { detectColumns, toExamples, DEFAULT_LABEL_TEMPLATE } from '../src/engine/data/examples.ts';
import { parseCsv, parseDataset, parseJsonl } from '../src/engine/data/parse.ts';
import { buildTrainingSet, exampleBudget } from '../src/engine/data/training-set.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

describe('dataset parsing', () => {
  it('reads CSV with quotes, doubled quotes, embedded newlines and CRLF', () => {
    const rows = parseCsv('text,label\r\n"Hello, ""world""",no complaint\r\n"two\nlines",complaint\n', 'd.csv');
    expect(rows).toEqual([
      { text: 'Hello, "world"', label: 'no complaint' },
      { text: 'two\nlines', label: 'complaint' },
    ]);
  });

  it('names the file and line of CSV errors', () => {
    expect(() => parseCsv('text,label\na,b,c\n', 'd.csv')).toThrow('d.csv:2: has 3 fields, the header has 2');
    expect(() => parseCsv('text,label\n"open,b\n', 'd.csv')).toThrow('d.csv:2: quoted field is never closed');
    expect(() => parseCsv('text,text\na,b\n', 'd.csv')).toThrow('d.csv:1: column "text" appears twice');
    expect(() => parseCsv('text,label\n', 'd.csv')).toThrow('d.csv: needs a header row and at least one data row');
  });

  it('reads JSONL, turning non-string values into strings, and names bad lines', () => {
    expect(parseJsonl('{"text": "a", "label": 1}\n\n{"text": "b", "label": true}\n', 'd.jsonl')).toEqual([
      { text: 'a', label: '1' },
      { text: 'b', label: 'true' },
    ]);
    expect(() => parseJsonl('{"text": "a"}\n{"text": \n', 'd.jsonl')).toThrow(/^d\.jsonl:2: not valid JSON/);
    expect(() => parseJsonl('[1,2]\n', 'd.jsonl')).toThrow('d.jsonl:1: each line must be a JSON object');
    expect(() => parseJsonl('\n\n', 'd.jsonl')).toThrow('d.jsonl: no rows');
  });

  it('picks the parser from the file name or the content', () => {
    expect(parseDataset('text\tlabel\nx\ty\n', 'd.tsv')).toEqual([{ text: 'x', label: 'y' }]);
    expect(parseDataset('[{"prompt": "p", "completion": "c"}]', 'd.json')).toEqual([{ prompt: 'p', completion: 'c' }]);
    expect(parseDataset('{"a": "b"}', 'pasted')).toEqual([{ a: 'b' }]);
  });

  it('detects text/label and prompt/completion columns and explains anything else', () => {
    expect(detectColumns([{ text: 'a', label: 'b' }], 'f')).toMatchObject({ kind: 'label', template: DEFAULT_LABEL_TEMPLATE });
    expect(detectColumns([{ prompt: 'a', completion: 'b' }], 'f')).toMatchObject({ kind: 'generation', template: '{prompt}' });
    expect(() => detectColumns([{ tweet: 'a', y: 'b' }], 'f.csv')).toThrow('f.csv: needs columns text + label or prompt + completion (found: tweet, y)');
  });

  it('applies templates and checks their columns', () => {
    const rows = [{ text: 'my order is late', label: 'complaint', user: 'ann' }];
    const ex = toExamples(rows, { kind: 'label', input: 'text', target: 'label', template: '{user} says: {text} Label : ' }, 'f');
    expect(ex).toEqual([{ input: 'ann says: my order is late Label : ', target: 'complaint' }]);
    expect(() => toExamples(rows, { kind: 'label', input: 'text', target: 'label', template: '{txt} Label : ' }, 'f')).toThrow('f: column "txt" does not exist');
    expect(() => toExamples(rows, { kind: 'label', input: 'text', target: 'label', template: 'Label : ' }, 'f')).toThrow(/never uses the input column/);
    expect(() => toExamples([{ text: 'a', label: ' ' }], { kind: 'label', input: 'text', target: 'label', template: '{text}' }, 'f')).toThrow('f: row 1 has an empty "label"');
  });
});

describe('encoding and batching', () => {
  let lm: LoadedModel;
  beforeAll(async () => {
    await initNodeBackend();
    lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
  });

  it('takes the loss only on the target tokens and EOS', () => {
    const e = encodeExample(lm.tokenizer, { input: 'Tweet text : hi Label : ', target: 'complaint' }, lm.eosTokenId, 100);
    const input = lm.tokenizer.encode('Tweet text : hi Label : ');
    const target = lm.tokenizer.encode('complaint', false);
    expect(e.inputIds).toEqual([...input, ...target, lm.eosTokenId]);
    expect(e.labels).toEqual([...input.map(() => -100), ...target, lm.eosTokenId]);
    expect(e.truncated).toBe(false);
  });

  it('truncates over-long inputs from the front, keeping BOS, the template end and the target, and counts them', () => {
    const long = { input: 'word '.repeat(60) + 'Label : ', target: 'complaint' };
    const e = encodeExample(lm.tokenizer, long, lm.eosTokenId, 20);
    expect(e.inputIds.length).toBe(20);
    expect(e.truncated).toBe(true);
    expect(e.inputIds[0]).toBe(lm.tokenizer.bosTokenId);
    const full = encodeExample(lm.tokenizer, long, lm.eosTokenId, 1000);
    expect(e.inputIds.slice(-8)).toEqual(full.inputIds.slice(-8));
    expect(lengthStats([e, full]).truncated).toBe(1);
  });

  it('right-pads batches with mask 0 and label -100', () => {
    const a = { inputIds: [1, 5, 6], labels: [-100, 5, 6], inputLength: 1, truncated: false };
    const b = { inputIds: [1, 7], labels: [-100, 7], inputLength: 1, truncated: false };
    expect(collate([a, b], 2)).toEqual({
      inputIds: [
        [1, 5, 6],
        [1, 7, 2],
      ],
      attentionMask: [
        [1, 1, 1],
        [1, 1, 0],
      ],
      labels: [
        [-100, 5, 6],
        [-100, 7, -100],
      ],
    });
  });

  it('splits and shuffles deterministically from the seed', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(splitTrainVal(items, 0.2, 7)).toEqual(splitTrainVal(items, 0.2, 7));
    expect(splitTrainVal(items, 0.2, 7).val.length).toBe(10);
    expect(splitTrainVal(items, 0.2, 8).val).not.toEqual(splitTrainVal(items, 0.2, 7).val);
    const ex = items.map((i) => ({ inputIds: [i + 3], labels: [i + 3], inputLength: 0, truncated: false }));
    expect(epochBatches(ex, 8, 0, 1, 0)).toEqual(epochBatches(ex, 8, 0, 1, 0));
    expect(epochBatches(ex, 8, 0, 1, 1)).not.toEqual(epochBatches(ex, 8, 0, 1, 0));
  });

  it('fits examples into the context left after the virtual tokens and reports truncation', () => {
    expect(exampleBudget(512, 20, null)).toBe(492);
    expect(exampleBudget(512, 20, 64)).toBe(64);
    expect(() => exampleBudget(16, 15, null)).toThrow(/leave 1 of the model's 16 context positions/);
    const examples = [
      { input: 'a b c d e f g h i j k l m n o p Label : ', target: 'x' },
      { input: 'short Label : ', target: 'y' },
    ];
    const shortLength = encodeExample(lm.tokenizer, examples[1], lm.eosTokenId, 1000).inputIds.length;
    const set = buildTrainingSet(lm.tokenizer, examples, lm.eosTokenId, lm.padTokenId, {
      numVirtualTokens: 4,
      contextLength: 512,
      maxLength: shortLength,
      batchSize: 2,
      epochs: 2,
      valSplit: 0,
      seed: 1,
    });
    expect(set.stats.train.truncated).toBe(1);
    expect(set.data.stepsPerEpoch).toBe(1);
    expect(() => buildTrainingSet(lm.tokenizer, examples, 2, 2, { numVirtualTokens: 4, contextLength: 512, maxLength: null, batchSize: 0, epochs: 1, valSplit: 0, seed: 1 })).toThrow(
      'batch size must be a positive integer, got 0',
    );
  });
});
