import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

type Json = Record<string, unknown>;

/**
 * How transformers 5's `AutoTokenizer` treats a folder: `backend` reads tokenizer.json literally
 * (`TokenizersBackend` = `PreTrainedTokenizerFast`, and the removed Bloom classes); the others rebuild the
 * normalizer, pre-tokenizer, decoder and BPE model from the class's own rules, keeping only the vocabulary, merges
 * and post-processor of tokenizer.json (transformers/models/<family>/tokenization_<family>.py).
 */
export type TokenizerRules = 'llama' | 'gemma' | 'qwen2' | 'gpt2' | 'backend';

const CLASS_RULES: Record<string, TokenizerRules> = {
  LlamaTokenizer: 'llama',
  GemmaTokenizer: 'gemma',
  Qwen2Tokenizer: 'qwen2',
  GPT2Tokenizer: 'gpt2',
  TokenizersBackend: 'backend',
  PreTrainedTokenizer: 'backend',
  PreTrainedTokenizerFast: 'backend',
  BloomTokenizer: 'backend',
};

/** transformers 5 TOKENIZER_MAPPING_NAMES for the model types the engine runs (absent: none registered). */
const MODEL_TYPE_CLASS: Record<string, string> = {
  gpt2: 'GPT2Tokenizer',
  qwen2: 'Qwen2Tokenizer',
  qwen3: 'Qwen2Tokenizer',
  gemma: 'GemmaTokenizer',
  gemma2: 'GemmaTokenizer',
  gemma3: 'GemmaTokenizer',
  gemma3_text: 'GemmaTokenizer',
  olmo2: 'TokenizersBackend',
  phi3: 'TokenizersBackend',
  mistral: 'TokenizersBackend', // MistralCommonBackend only with mistral-common and a tekken.json
};
/** MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS (the ones the engine runs): the registered class wins over the Hub's. */
const INCORRECT_HUB_CLASS = new Set(['qwen2', 'phi3']);
const BACKENDS = new Set(['TokenizersBackend', 'PythonBackend', 'PreTrainedTokenizerFast', 'PreTrainedTokenizer', 'MistralCommonBackend']);

const stripFast = (name: string) => (name.endsWith('Fast') ? name.slice(0, -4) : name);

/** AutoTokenizer.from_pretrained's choice of class (transformers 5.18, models/auto/tokenization_auto.py). */
export function tokenizerRules(tokenizerClass: unknown, modelType: string | null): { className: string; rules: TokenizerRules } {
  if (tokenizerClass !== undefined && tokenizerClass !== null && typeof tokenizerClass !== 'string') {
    throw new TokenizerError(`tokenizer_config.json: "tokenizer_class" must be a string, got ${JSON.stringify(tokenizerClass)}`);
  }
  const hub = tokenizerClass ? stripFast(tokenizerClass) : null;
  const registered = modelType ? MODEL_TYPE_CLASS[modelType] : undefined;
  let className: string;
  if (hub === null) className = registered ?? 'TokenizersBackend';
  else if (registered && stripFast(registered) !== hub) {
    // A registered class that is itself a backend sends every Hub class to TokenizersBackend.
    if (BACKENDS.has(registered)) className = 'TokenizersBackend';
    else className = INCORRECT_HUB_CLASS.has(modelType!) ? registered : hub;
  } else className = hub;
  const rules = CLASS_RULES[className];
  if (rules === 'backend') className = 'TokenizersBackend'; // the Python type those names resolve to
  if (!rules) {
    throw new TokenizerError(
      `tokenizer_config.json: tokenizer_class "${tokenizerClass}" is not supported: transformers builds it by its own rules, which the engine does not implement (supported: ${Object.keys(CLASS_RULES).join(', ')}, with or without "Fast")`,
    );
  }
  return { className, rules };
}

const QWEN2_PRETOKENIZE_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const sentencePieceDecoders = [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];

/** Class defaults of the named special tokens, used where tokenizer_config.json does not name them. */
const DEFAULT_SPECIALS: Record<TokenizerRules, Json> = {
  llama: { unk_token: '<unk>', bos_token: '<s>', eos_token: '</s>' },
  gemma: { unk_token: '<unk>', bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', mask_token: '<mask>' },
  qwen2: { unk_token: '<|endoftext|>', bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' },
  gpt2: { unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', pad_token: null },
  backend: {},
};
const NAMED_SPECIALS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

function tokenContent(v: unknown, field: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && 'content' in v && typeof (v as Json).content === 'string') return (v as Json).content as string;
  throw new TokenizerError(`tokenizer_config.json: "${field}" must be a token string or {"content": ...}, got ${JSON.stringify(v)}`);
}

function flag(config: Json, key: string, fallback: boolean): boolean {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new TokenizerError(`tokenizer_config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** Vocabulary of the BPE model as token -> id (tokenizer.json stores it as an object). */
function modelVocab(model: Json): Map<string, number> {
  const vocab = model.vocab;
  const out = new Map<string, number>();
  if (Array.isArray(vocab)) vocab.forEach((entry, i) => out.set(Array.isArray(entry) ? String(entry[0]) : String(entry), i));
  else if (vocab && typeof vocab === 'object') for (const [k, v] of Object.entries(vocab)) out.set(k, Number(v));
  return out;
}

/**
 * The tokenizer.json that transformers 5 effectively runs for this folder, in the format @huggingface/tokenizers
 * reads, plus the special tokens it resolved.
 */
export function effectiveTokenizerJson(tokenizerJson: Json, config: Json, rules: TokenizerRules): { json: Json; specials: Json } {
  const model = tokenizerJson.model as Json;
  if (!model || typeof model !== 'object') throw new TokenizerError('tokenizer.json: not a tokenizers file (no "model" entry)');
  if (rules !== 'backend' && model.type !== undefined && model.type !== 'BPE') {
    throw new TokenizerError(`tokenizer.json: model type "${String(model.type)}" where tokenizer_config.json's class uses BPE`);
  }
  if (config.split_special_tokens === true) throw new TokenizerError('tokenizer_config.json: "split_special_tokens": true is not supported');
  const specials: Json = { ...DEFAULT_SPECIALS[rules] };
  for (const key of NAMED_SPECIALS) if (key in config) specials[key] = tokenContent(config[key], key);
  for (const key of NAMED_SPECIALS) specials[key] = tokenContent(specials[key], key);

  const json: Json = { ...tokenizerJson };
  const bpe = (o: Json): Json => ({ type: 'BPE', vocab: model.vocab, merges: model.merges, dropout: null, ignore_merges: false, continuing_subword_prefix: null, end_of_word_suffix: null, ...o });
  if (rules === 'llama') {
    // LlamaTokenizer: no normalizer, Metaspace(prepend_scheme from add_prefix_space and legacy, split=False).
    const addPrefixSpace = flag(config, 'add_prefix_space', true);
    const legacy = flag(config, 'legacy', false);
    json.normalizer = null;
    json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: addPrefixSpace ? (legacy ? 'always' : 'first') : 'never', split: false };
    json.decoder = { type: 'Sequence', decoders: [...sentencePieceDecoders, ...(addPrefixSpace ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])] };
    json.model = bpe({ unk_token: null, fuse_unk: true, byte_fallback: true });
  } else if (rules === 'gemma') {
    json.normalizer = { type: 'Replace', pattern: { String: ' ' }, content: '▁' };
    json.pre_tokenizer = { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false };
    json.decoder = { type: 'Sequence', decoders: sentencePieceDecoders };
    json.model = bpe({ unk_token: specials.unk_token, fuse_unk: true, byte_fallback: true });
  } else if (rules === 'qwen2') {
    json.normalizer = { type: 'NFC' };
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_PRETOKENIZE_REGEX }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: flag(config, 'add_prefix_space', false), trim_offsets: true, use_regex: false },
      ],
    };
    json.decoder = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    json.model = bpe({ unk_token: null, fuse_unk: false, byte_fallback: false, continuing_subword_prefix: '', end_of_word_suffix: '' });
  } else if (rules === 'gpt2') {
    json.normalizer = null;
    json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: flag(config, 'add_prefix_space', false), trim_offsets: true, use_regex: true };
    json.decoder = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    json.model = bpe({ unk_token: null, fuse_unk: false, byte_fallback: false, continuing_subword_prefix: '', end_of_word_suffix: '' });
  }

  // Added tokens: the config's added_tokens_decoder when it has one, else tokenizer.json's list; a class that reads
  // the file literally keeps the file's and adds the config's. Named special tokens not among them are added as
  // special, unnormalized tokens (TokenizersBackend.__init__).
  const vocab = modelVocab(model);
  const added: AddedTokenJson[] = [];
  const byContent = new Map<string, AddedTokenJson>();
  const put = (t: AddedTokenJson) => {
    const old = byContent.get(t.content);
    if (old) Object.assign(old, t);
    else {
      added.push(t);
      byContent.set(t.content, t);
    }
  };
  const fromFile = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as AddedTokenJson[]) : [];
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined && (decoder === null || typeof decoder !== 'object' || Array.isArray(decoder))) {
    throw new TokenizerError('tokenizer_config.json: "added_tokens_decoder" must be an object of id -> token');
  }
  const fromConfig: AddedTokenJson[] = Object.entries((decoder as Json | undefined) ?? {}).map(([id, t]) => {
    const o = (t ?? {}) as Json;
    if (typeof o.content !== 'string' || !/^\d+$/.test(id)) throw new TokenizerError(`tokenizer_config.json: added_tokens_decoder entry ${id} is not {"content": ...} under a numeric id`);
    const special = o.special === true;
    return {
      id: Number(id),
      content: o.content,
      single_word: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
      normalized: typeof o.normalized === 'boolean' ? o.normalized : !special,
      special,
    };
  });
  if (rules === 'backend' || decoder === undefined) fromFile.forEach((t) => put({ ...t }));
  fromConfig.sort((a, b) => a.id - b.id).forEach(put);
  let nextId = Math.max(vocab.size, ...added.map((t) => t.id + 1));
  const extra = config.extra_special_tokens ?? config.additional_special_tokens;
  const extraList = Array.isArray(extra) ? extra : extra && typeof extra === 'object' ? Object.values(extra) : [];
  const named = [...NAMED_SPECIALS.map((k) => specials[k] as string | null), ...extraList.map((t, i) => tokenContent(t, `extra_special_tokens[${i}]`))];
  for (const content of named) {
    if (content === null) continue;
    const existing = byContent.get(content);
    if (existing) {
      // Qwen2Tokenizer re-adds its special tokens as special; elsewhere a named token is flagged special.
      existing.special = true;
      continue;
    }
    const id = vocab.get(content) ?? nextId++;
    put({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  json.added_tokens = added.sort((a, b) => a.id - b.id);

  // Post-processor: tokenizer.json's. transformers 5 drops add_bos_token / add_eos_token from tokenizer_config.json
  // when a tokenizer.json exists (PreTrainedTokenizerBase._from_pretrained), so they do not change the ids; a file
  // without a post-processor gets the plain "$A" template.
  if (!tokenizerJson.post_processor) {
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: {},
    };
  }
  return { json, specials };
}

/** The tokenizer.json + tokenizer_config.json pair, tokenizing as transformers 5's AutoTokenizer does, with the few calls the engine needs. */
export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly eosTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly vocabSize: number;
  readonly modelMaxLength: number | null;
  /** The transformers class whose rules are applied (e.g. LlamaTokenizer, TokenizersBackend). */
  readonly className: string;
  private readonly cleanUpSpaces: boolean;

  /** `modelType`: config.json's model_type, which AutoTokenizer consults next to tokenizer_class. */
  constructor(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown> | null, modelType: string | null = null) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new TokenizerError('tokenizer.json: not a tokenizers file (no "model" entry)');
    }
    const config = tokenizerConfig ?? {};
    const { className, rules } = tokenizerRules(config.tokenizer_class, modelType);
    this.className = className;
    const { json, specials } = effectiveTokenizerJson(tokenizerJson as Json, config, rules);
    // transformers 5 skips clean_up_tokenization_spaces for BPE models (it strips real spaces before punctuation).
    const bpe = (json.model as Json).type === 'BPE' || ((json.model as Json).type === undefined && 'merges' in (json.model as Json));
    this.cleanUpSpaces = flag(config, 'clean_up_tokenization_spaces', false) && !(bpe && config.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output !== true);
    try {
      this.tokenizer = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: this.cleanUpSpaces });
    } catch (e) {
      throw new TokenizerError(`tokenizer.json: could not be loaded (${(e as Error).message})`);
    }
    const idOf = (content: unknown): number | null => (typeof content === 'string' ? (this.tokenizer.token_to_id(content) ?? null) : null);
    this.eosTokenId = idOf(specials.eos_token);
    this.bosTokenId = idOf(specials.bos_token);
    this.padTokenId = idOf(specials.pad_token);
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
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** The vocabulary string of one id (for showing which tokens a prompt is made of). */
  token(id: number): string {
    return this.tokenizer.id_to_token(id) ?? `<${id}>`;
  }
}
