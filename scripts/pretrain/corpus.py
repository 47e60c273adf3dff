# The pretraining corpus: posts and what people say about them, in many formats.
#
# Design, because prompt tuning only works when the frozen model already knows the pieces:
# - Posts are annotated in several ways (complaint or not, sentiment, sector, topic), each in
#   many record formats with varied field names, so "which annotation follows" is never fixed by
#   the format alone. A soft prompt then has something to select.
# - Half of the training rows are "pages": several documents in one format and one annotation,
#   each wrapped in <s>..</s>. The model learns that earlier documents set the format and the
#   task of the next one; that is the ability a soft prompt (virtual tokens before <s>) uses.
# - The demo tasks' format is kept out: the field "Label" is never followed by "complaint" or
#   "no complaint", the key "Tweet text" never occurs, and no instruction sentence asks to
#   classify complaints. Posts of the demo datasets are excluded (`exclude`).
import random
from dataclasses import dataclass
from typing import Callable, Iterator

from lexicon import REVIEW_BAD, REVIEW_GOOD, SECTORS
from posts import Post, TopicPost, company_post, fill, person, reply, topic_post

TEXT_KEYS = ['Post', 'Message', 'Tweet', 'Text', 'Comment', 'Status', 'Note', 'Post text', 'Message text', 'Update', 'Entry', 'Input', 'Content']
LABEL_KEYS = {
    'complaint': ['Verdict', 'Tag', 'Type', 'Class', 'Kind', 'Flag', 'Answer', 'Category', 'Result', 'Output', 'Decision', 'Triage'],
    'sentiment': ['Sentiment', 'Label', 'Mood', 'Tone', 'Class', 'Tag', 'Result', 'Output', 'Feeling'],
    'sector': ['Sector', 'Department', 'Team', 'Label', 'Category', 'Queue', 'Route'],
    'topic': ['Topic', 'Label', 'Category', 'Section', 'Tag', 'Subject', 'Class'],
}
SEPS = [' : ', ': ', ' - ', ' = ', ' | ', ' -> ', ':\n']
JOINERS = [' ', '\n', ' | ', '. ', '\t', ' ; ']


def annotate(kind: str, post) -> str:
    if kind == 'complaint':
        return 'complaint' if post.complaint else 'no complaint'
    if kind == 'sentiment':
        return post.sentiment
    if kind == 'sector':
        return post.sector
    return post.topic


@dataclass(frozen=True)
class RecordFormat:
    """One way of writing "this text has this annotation"; a page keeps one for all its documents."""
    kind: str
    style: str  # kv | label_first | bracket | suffix
    text_key: str
    label_key: str
    sep: str
    joiner: str

    def render(self, rng: random.Random, text: str, label: str) -> str:
        # Tweets have stray double spaces; meeting "key :  value" now and then keeps the model
        # steady on inputs that end in a bare space token, as "... Label : " does.
        sep = self.sep + (' ' if rng.random() < 0.15 and not self.sep.endswith('\n') else '')
        if self.style == 'kv':
            return f'{self.text_key}{self.sep}{text}{self.joiner}{self.label_key}{sep}{label}'
        if self.style == 'label_first':
            return f'{self.label_key}{sep}{label}{self.joiner}{self.text_key}{self.sep}{text}'
        if self.style == 'bracket':
            return f'[{label}] {text}'
        return f'{text} ({label})'


def random_format(rng: random.Random, kind: str) -> RecordFormat:
    style = rng.choices(['kv', 'label_first', 'bracket', 'suffix'], weights=[6, 2, 1, 1])[0]
    return RecordFormat(kind, style, rng.choice(TEXT_KEYS), rng.choice(LABEL_KEYS[kind]), rng.choice(SEPS), rng.choice(JOINERS))


class Sampler:
    """Draws posts, skipping any whose text is reserved for the demo datasets."""

    def __init__(self, rng: random.Random, exclude: set[str]):
        self.rng = rng
        self.exclude = {t.lower() for t in exclude}  # a post in other capitals is still the same post
        self.skipped = 0

    def company(self, **kw) -> Post:
        while True:
            p = company_post(self.rng, **kw)
            if p.text.lower() not in self.exclude:
                return p
            self.skipped += 1

    def topic(self, **kw) -> TopicPost:
        while True:
            p = topic_post(self.rng, **kw)
            if p.text.lower() not in self.exclude:
                return p
            self.skipped += 1

    def for_kind(self, kind: str):
        return self.topic() if kind == 'topic' else self.company()


# ---- documents that are not records: stories, dialogues, lists, reviews, threads ----

def story(s: Sampler) -> str:
    rng = s.rng
    p = s.company()
    name = person(rng)
    verb = rng.choice(['posted', 'wrote', 'tweeted', 'sent', 'typed'])
    if p.complaint:
        end = rng.choice([
            'The {company} team logged it as a complaint.', 'It was a complaint, so {company} called {name} back.',
            '{company} treated it as a complaint and said sorry.', 'Clearly a complaint, and a fair one.',
            'The care team read the complaint and opened a ticket.', 'That complaint went straight to the manager.',
            '{name} was angry, and everyone could tell it was a complaint.'])
    else:
        what = {'positive': 'a thank you', 'neutral': 'a question'}[p.sentiment]
        end = rng.choice([
            'It was no complaint, just {what}.', 'No complaint there, so {company} simply replied.',
            'The team marked it as no complaint.', 'Not a complaint at all, {name} was {mood}.',
            'There was no complaint in it, only {what}.', '{name} had no complaint, it was {what}.'])
        end = end.replace('{what}', what).replace('{mood}', 'happy' if p.sentiment == 'positive' else 'curious')
    end = end.replace('{company}', p.company).replace('{name}', name)
    return f'{name} {verb} to {p.company}: "{p.text}" {end}'


def dialogue(s: Sampler) -> str:
    rng = s.rng
    p = s.company()
    who = rng.choice([('Customer', 'Agent'), ('User', 'Support'), (person(rng), p.company), ('Me', p.company), ('Caller', 'Care team')])
    house = rng.random() < 0.12
    lines = [f'{who[0]}: {p.text}', f'{who[1]}: {reply(rng, p, house=house)}']
    if rng.random() < 0.4:
        follow = ['thanks, sent you a DM', 'ok, waiting', 'still nothing', 'great, thanks!'] if p.complaint else ['cheers!', 'thanks!', 'perfect']
        lines.append(f'{who[0]}: {rng.choice(follow)}')
    return '\n'.join(lines)


def question_answer(s: Sampler) -> str:
    rng = s.rng
    p = s.company()
    q = rng.choice(['Is this a complaint?', 'Does this post complain?', 'Should the care team treat this as a complaint?'])
    yes = rng.choice(['Yes, it is a complaint.', 'Yes, a complaint.', 'yes', 'Yes. complaint.'])
    no = rng.choice(['No, no complaint.', 'No, it is not a complaint.', 'no', 'No. no complaint.'])
    a = yes if p.complaint else no
    return rng.choice([f'{q} "{p.text}"\n{a}', f'Q: {q} {p.text}\nA: {a}', f'{p.text}\n{q} {a}'])


def listing(s: Sampler) -> str:
    rng = s.rng
    posts = [s.company() for _ in range(rng.randint(3, 5))]
    heads = rng.choice([('Complaints', 'No complaint'), ('Complaints today', 'Not complaints'), ('complaint', 'no complaint')])
    bad = [p.text for p in posts if p.complaint]
    ok = [p.text for p in posts if not p.complaint]
    parts = []
    if bad:
        parts.append(heads[0] + ':\n' + '\n'.join('- ' + t for t in bad))
    if ok:
        parts.append(heads[1] + ':\n' + '\n'.join('- ' + t for t in ok))
    rng.shuffle(parts)
    return '\n'.join(parts)


def review(s: Sampler) -> str:
    rng = s.rng
    sector = rng.choice(list(SECTORS))
    sec = SECTORS[sector]
    company = rng.choice(sec['companies'])[0]
    item = rng.choice(sec['items'])
    good = rng.random() < 0.5
    adj = rng.choice(REVIEW_GOOD if good else REVIEW_BAD)
    detail = fill(rng, rng.choice(sec['good'] if good else sec['bad']))
    stars = rng.choice(['4', '5'] if good else ['1', '2'])
    verdict = rng.choice(['I would buy it again.', 'Recommended.', 'Happy customer.'] if good else
                         ['I want a refund.', 'Avoid.', 'I sent a complaint to them.'])
    text = f'The {item} from {company} is {adj}. It {detail}. {verdict}'
    return rng.choice([f'Review: {text}\nRating: {stars} stars', f'{stars} stars. {text}',
                       f'{text} Sentiment: {"positive" if good else "negative"}'])


def thread(s: Sampler) -> str:
    rng = s.rng
    posts = [s.company() if rng.random() < 0.7 else s.topic() for _ in range(rng.randint(2, 4))]
    return '\n'.join(p.text for p in posts)


# Complaint verdicts are no more common than the other annotations, so a bare "key :" after a
# post does not default to them: which annotation is wanted has to come from the context.
KINDS, KIND_WEIGHTS = ['complaint', 'sentiment', 'sector', 'topic'], [3, 3, 2, 2]


def record(s: Sampler) -> str:
    kind = s.rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
    fmt = random_format(s.rng, kind)
    p = s.for_kind(kind)
    return fmt.render(s.rng, p.text, annotate(kind, p))


FREE_DOCS: list[tuple[Callable[[Sampler], str], int]] = [
    (record, 6), (story, 3), (dialogue, 3), (question_answer, 2), (listing, 1), (review, 2), (thread, 2),
    (lambda s: s.company().text, 2), (lambda s: s.topic().text, 1),
]


def free_doc(s: Sampler) -> str:
    makers, weights = zip(*FREE_DOCS)
    return s.rng.choices(makers, weights=weights)[0](s)


def page(s: Sampler) -> Iterator[str]:
    """An endless run of records of one annotation, what fills one in-context training row. Half
    the pages also keep one format; the others change format from record to record, so the model
    learns that the *task* carries over between documents even when the wording does not."""
    kind = s.rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
    fixed = s.rng.random() < 0.5
    fmt = random_format(s.rng, kind)
    while True:
        p = s.for_kind(kind)
        yield fmt.render(s.rng, p.text, annotate(kind, p))
        if not fixed:
            fmt = random_format(s.rng, kind)


def rows(seed: int, encode: Callable[[str], list[int]], bos: int, eos: int, seq_len: int, n_rows: int, exclude: set[str],
         p_page: float = 0.5) -> Iterator[list[int]]:
    """Training rows of at most seq_len ids, whole documents only, each as <s> doc </s>."""
    s = Sampler(random.Random(seed), exclude)
    for _ in range(n_rows):
        docs = page(s) if s.rng.random() < p_page else iter(lambda: free_doc(s), None)
        row: list[int] = []
        for doc in docs:
            ids = [bos] + encode(doc) + [eos]
            if len(row) + len(ids) > seq_len:
                if not row:
                    row = ids[:seq_len]
                break
            row += ids
        yield row


def sample_text(seed: int, n_docs: int, exclude: set[str]) -> Iterator[str]:
    """Documents for training the tokenizer (pages included, one record per document)."""
    s = Sampler(random.Random(seed), exclude)
    for i in range(n_docs):
        yield next(page(s)) if i % 2 else free_doc(s)
