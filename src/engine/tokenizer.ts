import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

/** The tokenizer.json + tokenizer_config.json pair, with the few calls the engine needs. */
export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly vocabSize: number;
  readonly modelMaxLength: number | null;

  constructor(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown> | null) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new TokenizerError('tokenizer.json: not a tokenizers file (no "model" entry)');
    }
    const config = tokenizerConfig ?? {};
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json: could not be loaded (${(e as Error).message})`);
    }
    const idOf = (v: unknown): number | null => {
      const content = typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : null;
      return content === null ? null : (this.tokenizer.token_to_id(content) ?? null);
    };
    this.eosTokenId = idOf(config.eos_token);
    this.bosTokenId = idOf(config.bos_token);
    this.padTokenId = idOf(config.pad_token);
    this.vocabSize = this.tokenizer.get_vocab(true).size;
    const max = config.model_max_length;
    this.modelMaxLength = typeof max === 'number' && max < 1e9 ? max : null;
  }

  /** Token ids as `tokenizer(text).input_ids` gives them (special tokens the tokenizer adds by default included). */
  encode(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  /** The vocabulary string of one id (for showing which tokens a prompt is made of). */
  token(id: number): string {
    return this.tokenizer.id_to_token(id) ?? `<${id}>`;
  }
}
