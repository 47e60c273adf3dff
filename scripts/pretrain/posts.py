# Short posts to (fictional) companies, with what a reader would say about them: complaint or
# not, sentiment, sector. The same generator feeds the pretraining corpus and the demo
# datasets, so the model has met the *language* of the task; the datasets' own posts are kept
# out of the corpus (see corpus.py) and the task's prompt format never appears there.
import random
import re
from dataclasses import dataclass

from lexicon import (AGAINS, DAYS, DEMANDS, DURATIONS, FRUSTRATIONS, GREETINGS, HOLIDAYS, NAMES, NEUTRAL_CLOSERS, OPENERS,
                     ORDINALS, PRAISE, SCORES, SECTORS, SINCES, TOPICS, TOWNS, WHENS)


@dataclass(frozen=True)
class Post:
    text: str
    complaint: bool
    sentiment: str  # positive | negative | neutral
    sector: str
    company: str
    handle: str
    item: str
    kind: str  # which pattern made it: useful for balance checks and replies


@dataclass(frozen=True)
class TopicPost:
    text: str
    topic: str


def fill(rng: random.Random, template: str, **known: str) -> str:
    """Fills {slot}s; unknown slots draw from the shared word lists."""
    pools = {'since': SINCES, 'again': AGAINS, 'duration': DURATIONS, 'day': DAYS, 'town': TOWNS, 'when': WHENS}

    def one(m: re.Match) -> str:
        key = m.group(1)
        if key in known:
            return known[key]
        return rng.choice(pools[key])

    # Slots can bring their own slots ("{since}" inside a "bad" phrase), so fill until stable.
    for _ in range(3):
        template = re.sub(r'\{(\w+)\}', one, template)
    return template


def _tidy(text: str, rng: random.Random) -> str:
    text = re.sub(r'\s+', ' ', text).strip()
    text = text.replace(' .', '.').replace('..', '.').replace('?.', '?').replace('!.', '!')
    # Real posts are inconsistent about capitals; mostly lower case keeps the vocabulary small.
    if rng.random() < 0.3:
        text = text[0].upper() + text[1:]
    return text


def _pick(rng: random.Random, sector: str | None):
    sector = sector or rng.choice(list(SECTORS))
    s = SECTORS[sector]
    company, handle = rng.choice(s['companies'])
    item = rng.choice(s['items'])
    return sector, s, company, handle, item


COMPLAINT_PATTERNS = [
    '{h} my {item} {bad}. {frus}',
    '{h} my {item} {bad}',
    '{h} {clause}. {frus}',
    '{open} {h} {clause}',
    '{h} {duration} on hold and still no answer about my {item}. {frus}',
    'thanks for nothing {h}, my {item} {bad}',
    'great job {h}, my {item} {bad}. {frus}',
    '{h} this is the {ord} time my {item} {bad}. {demand}',
    '{greet} {h}, my {item} {bad}. could you look into it please?',
    '{greet} {h}, just letting you know {clause}. can someone help?',
    '{h} why {why}?',
    '{h} your {staff} {staff_bad}. {frus}',
    'never using {h} again. {clause}.',
    '{h} {clause}. {demand}',
    'my {item} {bad} and {h} does not care. {frus}',
    '{h} still waiting on my {item}. {frus}',
    '{h} love how my {item} {bad}. just love it.',
]

WHY = ['is my {item} still not here', 'was I charged twice for my {item}', 'does my {item} keep breaking', 'has nobody replied about my {item}',
       'is it so hard to fix my {item}', 'did you cancel my {item}', 'is your {staff} so rude']

NON_COMPLAINT_PATTERNS = [
    ('{h} thanks for {good_thing}! {praise}', 'positive'),
    ('love my new {item} from {h} {praise}', 'positive'),
    ('{h} {question}', 'neutral'),
    ('{greet} {h}, {question}', 'neutral'),
    ('{neutral}, {nclose}', 'neutral'),
    ('{h} my {item} {good}. {praise}', 'positive'),
    ('shout out to {h} for {good_thing}', 'positive'),
    ('{h} all sorted now, thanks for the help with my {item}', 'positive'),
    ('{h} happy {holiday}!', 'positive'),
    ('{h} no problems at all with my {item}, {good_clause}', 'positive'),
    ('not bad at all {h}, my {item} {good}', 'positive'),
    ('{h} I left my {item} at home, my fault not yours lol', 'neutral'),
    ('{h} quick question: {question}', 'neutral'),
    ('{h} you were right, the {item} just needed a restart. thanks!', 'positive'),
    ('{h} my {item} {good}, {praise}', 'positive'),
    ('{h} is hiring in {town}, anyone interested?', 'neutral'),
]


def complaint_post(rng: random.Random, sector: str | None = None) -> Post:
    sector, s, company, handle, item = _pick(rng, sector)
    pattern = rng.choice(COMPLAINT_PATTERNS)
    slots = {
        'h': handle, 'item': item, 'bad': rng.choice(s['bad']), 'clause': rng.choice(s['bad_clauses']), 'frus': rng.choice(FRUSTRATIONS),
        'open': rng.choice(OPENERS), 'ord': rng.choice(ORDINALS), 'demand': rng.choice(DEMANDS), 'greet': rng.choice(GREETINGS),
        'why': rng.choice(WHY), 'staff': rng.choice(s['staff']), 'staff_bad': rng.choice(s['staff_bad']), 'company': company,
    }
    text = _tidy(fill(rng, pattern, **slots), rng)
    return Post(text, True, 'negative', sector, company, handle, item, 'complaint:' + pattern)


def non_complaint_post(rng: random.Random, sector: str | None = None) -> Post:
    sector, s, company, handle, item = _pick(rng, sector)
    pattern, sentiment = rng.choice(NON_COMPLAINT_PATTERNS)
    good = rng.choice(s['good'])
    slots = {
        'h': handle, 'item': item, 'good': good, 'good_thing': rng.choice(s['good_things']), 'praise': rng.choice(PRAISE),
        'question': rng.choice(s['questions']), 'greet': rng.choice(GREETINGS), 'neutral': rng.choice(s['neutral']),
        'nclose': rng.choice(NEUTRAL_CLOSERS), 'holiday': rng.choice(HOLIDAYS), 'company': handle,
        'good_clause': 'it ' + good,
    }
    text = _tidy(fill(rng, pattern, **slots), rng)
    return Post(text, False, sentiment, sector, company, handle, item, 'ok:' + pattern)


def company_post(rng: random.Random, p_complaint: float = 0.5, sector: str | None = None) -> Post:
    return complaint_post(rng, sector) if rng.random() < p_complaint else non_complaint_post(rng, sector)


def topic_post(rng: random.Random, topic: str | None = None) -> TopicPost:
    topic = topic or rng.choice(list(TOPICS))
    t = TOPICS[topic]
    slots = {'thing': rng.choice(t['things']), 'team': rng.choice(t.get('teams', ['City'])), 'score': rng.choice(SCORES)}
    text = _tidy(fill(rng, rng.choice(t['lines']), **slots), rng)
    return TopicPost(text, topic)


# Replies a support team might send. Many voices, so the model knows replies in general; the
# support-reply demo task asks for one house style (HOUSE_REPLY) that a soft prompt must pick out.
REPLY_STYLES_COMPLAINT = [
    'Sorry to hear that. Can you send us a DM with your details?',
    'We are so sorry about your {item}. Please DM us and we will look into it.',
    'Oh no, that is not the service we want you to have. Our team will be in touch.',
    'Hi, sorry for the trouble with your {item}. Could you share your order number by DM?',
    'That sounds really frustrating, sorry. We have passed this to the {item} team.',
    'Apologies for this. Please follow us and DM your account number so we can help.',
    'Sorry about the wait. We will check what happened to your {item} and get back to you.',
    'Thanks for telling us, and sorry. Someone from {company} will call you today.',
]
REPLY_STYLES_OK = {
    'positive': ['Thank you so much! We will pass this on to the team.', 'Glad to hear it! Enjoy your {item}.', 'This made our day, thanks!',
                 'So happy it all worked out. Thanks for choosing {company}!'],
    'neutral': ['Hi! Good question, please check our help pages or DM us for details.', 'Thanks for asking! Our team will reply by DM shortly.',
                'Hi there, yes, you can find all the details on our website.', 'Thanks for getting in touch! Have a lovely day.'],
}
HOUSE_REPLY = 'Hi from the {company} care team! Sorry about your {item}. Send us a DM and we will fix it today.'


def reply(rng: random.Random, post: Post, house: bool = False) -> str:
    if house:
        template = HOUSE_REPLY
    elif post.complaint:
        template = rng.choice(REPLY_STYLES_COMPLAINT)
    else:
        template = rng.choice(REPLY_STYLES_OK[post.sentiment])
    return template.format(item=post.item, company=post.company)


def person(rng: random.Random) -> str:
    return rng.choice(NAMES)
