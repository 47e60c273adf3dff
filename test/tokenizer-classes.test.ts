// Tokenizer ids equal transformers 5's AutoTokenizer for each tokenizer class Hub repos name. The folders and the
// expected ids come from scripts/fixtures/make_tokenizers.py (transformers + tokenizers, committed output).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer, TokenizerError, tokenizerRules } from '../src/engine/tokenizer.ts';

const ROOT = path.join(import.meta.dirname, 'fixtures', 'tokenizers');
const readJson = (dir: string, file: string) => JSON.parse(readFileSync(path.join(ROOT, dir, file), 'utf8'));

interface Case {
  text: string;
  ids: number[];
  ids_plain: number[];
  decoded: string;
  decoded_all: string;
}
interface Cases {
  description: string;
  auto_tokenizer_class: string;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
  vocab_size_with_added: number;
  cases: Case[];
}

const folders = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, d.name, 'cases.json')))
  .map((d) => d.name)
  .sort();

function load(dir: string): TextTokenizer {
  return new TextTokenizer(readJson(dir, 'tokenizer.json'), readJson(dir, 'tokenizer_config.json'), readJson(dir, 'config.json').model_type);
}

describe('tokenizer classes as transformers 5 AutoTokenizer', () => {
  it('covers every class the issue names', () => {
    const classes = new Set(folders.map((d) => String(readJson(d, 'tokenizer_config.json').tokenizer_class)));
    for (const c of [
      'LlamaTokenizer',
      'LlamaTokenizerFast',
      'GemmaTokenizer',
      'GemmaTokenizerFast',
      'Qwen2Tokenizer',
      'Qwen2TokenizerFast',
      'GPT2Tokenizer',
      'GPT2TokenizerFast',
      'BloomTokenizerFast',
      'PreTrainedTokenizerFast',
    ]) {
      expect(classes, c).toContain(c);
    }
  });

  describe.each(folders)('%s', (dir) => {
    const expected: Cases = readJson(dir, 'cases.json');
    const tok = load(dir);

    it('picks the class AutoTokenizer picks, and its special token ids', () => {
      expect(tok.className).toBe(expected.auto_tokenizer_class);
      expect(tok.bosTokenId).toBe(expected.bos_token_id);
      expect(tok.eosTokenId).toBe(expected.eos_token_id);
      expect(tok.padTokenId).toBe(expected.pad_token_id);
      expect(tok.vocabSize).toBe(expected.vocab_size_with_added);
    });

    it.each(expected.cases.map((c) => [JSON.stringify(c.text), c] as const))('encodes and decodes %s', (_, c) => {
      expect(tok.encode(c.text), 'ids').toEqual(c.ids);
      expect(tok.encode(c.text, false), 'ids without special tokens').toEqual(c.ids_plain);
      expect(tok.decode(c.ids), 'decode(skip_special_tokens=True)').toBe(c.decoded);
      expect(tok.decode(c.ids, false), 'decode(skip_special_tokens=False)').toBe(c.decoded_all);
    });
  });
});

describe('tokenizer class errors', () => {
  it('names an unsupported tokenizer_class', () => {
    expect(() => tokenizerRules('T5Tokenizer', 'llama')).toThrow(TokenizerError);
    expect(() => tokenizerRules('T5Tokenizer', 'llama')).toThrow(/tokenizer_config.json: tokenizer_class "T5Tokenizer" is not supported/);
  });
  it('names a malformed field', () => {
    const dir = 'llama-legacy-true-bos1-eos0-hub-v4';
    const config = { ...readJson(dir, 'tokenizer_config.json'), legacy: 'yes' };
    expect(() => new TextTokenizer(readJson(dir, 'tokenizer.json'), config, 'llama')).toThrow(/tokenizer_config.json: "legacy" must be true or false/);
    expect(() => new TextTokenizer(readJson(dir, 'tokenizer.json'), { ...config, legacy: true, eos_token: 7 }, 'llama')).toThrow(/tokenizer_config.json: "eos_token" must be a token string/);
  });
  it('follows model_type where AutoTokenizer does', () => {
    expect(tokenizerRules('PreTrainedTokenizerFast', 'qwen2').className).toBe('Qwen2Tokenizer');
    expect(tokenizerRules('LlamaTokenizerFast', 'phi3').className).toBe('TokenizersBackend');
    expect(tokenizerRules('LlamaTokenizerFast', 'llama').className).toBe('LlamaTokenizer');
    expect(tokenizerRules(undefined, 'gpt2').className).toBe('GPT2Tokenizer');
    expect(tokenizerRules(undefined, 'bloom').className).toBe('TokenizersBackend');
  });
});
