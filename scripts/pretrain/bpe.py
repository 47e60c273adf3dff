# A Llama-style BPE tokenizer (sentencepiece conventions: "▁" for spaces, a "▁" prepended to the
# text, byte fallback for anything outside the learned alphabet), trained here because there is
# no PyPI `tokenizers` on this machine. It writes the same tokenizer.json layout as the
# tiny-llama fixture, which the engine's tokenizer tests and transformers already read.
#
# Merges never cross a "▁" (words are trained separately and a merge's right half never starts
# with "▁"), and never touch a byte-fallback token, so encoding word by word here is identical
# to the tokenizers library running the merges over the whole string.
import json
import re
from collections import Counter
from typing import Iterable

SPACE = '\u2581'
SPECIALS = ['<unk>', '<s>', '</s>']
UNK, BOS, EOS = 0, 1, 2
# Control characters stay byte tokens (as in Llama): they separate fields and should not glue to words.
NO_ALPHABET = set('\n\t\r')
WORD = re.compile(f'{SPACE}[^{SPACE}\n\t\r]*|[\n\t\r]|[^{SPACE}\n\t\r]+')


def normalize(text: str) -> str:
    # tokenizers' Prepend normalizer leaves an empty string empty.
    return SPACE + text.replace(' ', SPACE) if text else ''


def words(text: str) -> list[str]:
    return WORD.findall(normalize(text))


def byte_token(b: int) -> str:
    return f'<0x{b:02X}>'


class BPETokenizer:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.merges = merges
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.cache: dict[str, list[int]] = {}

    def _word(self, w: str) -> list[int]:
        hit = self.cache.get(w)
        if hit is not None:
            return hit
        symbols: list[str] = []
        for ch in w:
            if ch in self.vocab:
                symbols.append(ch)
            else:
                symbols.extend(byte_token(b) for b in ch.encode('utf-8'))
        while len(symbols) > 1:
            best, where = None, -1
            for i in range(len(symbols) - 1):
                r = self.ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and (best is None or r < best):
                    best, where = r, i
            if best is None:
                break
            symbols[where:where + 2] = [symbols[where] + symbols[where + 1]]
        ids = [self.vocab[s] for s in symbols]
        self.cache[w] = ids
        return ids

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        ids = [BOS] if add_bos else []
        for w in words(text):
            ids += self._word(w)
        return ids

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            if i < len(SPECIALS):
                continue
            t = self.id_to_token[i]
            if t.startswith('<0x') and len(t) == 6:
                out.append(int(t[3:5], 16))
            else:
                out += t.replace(SPACE, ' ').encode('utf-8')
        s = out.decode('utf-8', errors='replace')
        return s[1:] if s.startswith(' ') else s


def train(texts: Iterable[str], vocab_size: int, min_char_count: int = 20) -> BPETokenizer:
    counts: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    for t in texts:
        for w in words(t):
            counts[w] += 1
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in range(256):
        vocab[byte_token(b)] = len(vocab)
    # Frequent characters become pieces; rare ones (and control characters) use byte fallback.
    for ch, c in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if c >= min_char_count and ch not in NO_ALPHABET:
            vocab[ch] = len(vocab)

    def split(w: str) -> tuple[str, ...]:
        return tuple(ch if ch in vocab else '\0' for ch in w)  # '\0' marks a byte-fallback char: never merged

    corpus = {split(w): c for w, c in counts.items() if w not in ('\n', '\t', '\r')}
    pairs: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[tuple[str, ...]]] = {}

    def add(word: tuple[str, ...], c: int, sign: int) -> None:
        for a, b in zip(word, word[1:]):
            if a == '\0' or b == '\0' or b.startswith(SPACE):
                continue
            pairs[(a, b)] += sign * c
            if sign > 0:
                where.setdefault((a, b), set()).add(word)

    for word, c in corpus.items():
        add(word, c, 1)
    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size and pairs:
        # Ties broken by the pair's text so the result never depends on dict order.
        (a, b), c = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if c < 2:
            break
        merges.append((a, b))
        vocab[a + b] = len(vocab)
        for word in list(where.pop((a, b), ())):
            if word not in corpus:
                continue
            wc = corpus.pop(word)
            add(word, wc, -1)
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new = tuple(out)
            corpus[new] = corpus.get(new, 0) + wc
            add(new, wc, 1)
        for p in [p for p, v in pairs.items() if v <= 0]:
            del pairs[p]
    return BPETokenizer(vocab, merges)


def tokenizer_json(tok: BPETokenizer) -> dict:
    special = [{'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
               for i, t in enumerate(SPECIALS)]
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': special,
        'normalizer': {'type': 'Sequence', 'normalizers': [
            {'type': 'Prepend', 'prepend': SPACE},
            {'type': 'Replace', 'pattern': {'String': ' '}, 'content': SPACE}]},
        'pre_tokenizer': None,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                     {'SpecialToken': {'id': '<s>', 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': {'<s>': {'id': '<s>', 'ids': [BOS], 'tokens': ['<s>']}},
        },
        'decoder': {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': SPACE}, 'content': ' '},
            {'type': 'ByteFallback'}, {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {
            'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None, 'end_of_word_suffix': None,
            'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
            'vocab': tok.vocab, 'merges': [list(m) for m in tok.merges],
        },
    }


def tokenizer_config(model_max_length: int) -> dict:
    decoder = {str(i): {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}
               for i, t in enumerate(SPECIALS)}
    # PreTrainedTokenizerFast runs tokenizer.json exactly as written; transformers' LlamaTokenizer
    # would rebuild the pipeline and treat leading spaces differently from @huggingface/tokenizers.
    return {
        'added_tokens_decoder': decoder, 'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': None,
        'clean_up_tokenization_spaces': False, 'model_max_length': model_max_length, 'padding_side': 'right',
        'tokenizer_class': 'PreTrainedTokenizerFast',
    }


def load(folder: str) -> BPETokenizer:
    with open(f'{folder}/tokenizer.json', encoding='utf-8') as f:
        model = json.load(f)['model']
    return BPETokenizer(model['vocab'], [tuple(m) for m in model['merges']])
