# Writes the demo tasks to public/datasets/: <task>.train.jsonl, <task>.test.jsonl and a README
# per task. The posts come from the same procedural world as the pretraining corpus (posts.py),
# drawn with their own seed; pretrain.py then keeps every text written here out of the corpus.
#
#   /usr/bin/python3 scripts/pretrain/make_datasets.py [--out public/datasets] [--seed 7]
import argparse
import json
import os
import random
from collections import Counter

from posts import complaint_post, non_complaint_post, reply, topic_post
from lexicon import TOPIC_LABELS

TASKS = {
    'complaint': {
        'title': 'complaint: is a short post to a company a complaint?',
        'teaches': (
            'The PEFT cookbook\'s twitter_complaints task in miniature: short posts addressed to (fictional) companies, '
            'labelled `complaint` or `no complaint`. Complaints range from blunt ("my parcel never arrived. awful") to polite '
            '("hi @x, just letting you know ...") and sarcastic ("great job @x, my flight was cancelled again"); non-complaints '
            'are thanks, questions, neutral chatter and a few that use negative words without complaining ("no problems at all '
            'with my router"). The base model has read posts like these with verdicts in other formats, never in the '
            '`Tweet text : {text} Label : ` template the playground uses, so the soft prompt has to connect the two.'),
        'template': 'Tweet text : {text} Label : ',
    },
    'topic': {
        'title': 'topic: what is an everyday post about?',
        'teaches': (
            'Four-way classification of everyday posts (no companies involved) into `sports`, `food`, `weather` or `tech`. '
            'The contrast case: the base model already does this with no prompt at all (its corpus annotated everyday posts '
            'with topics under a `Label` field), so the baselines are near 100% and prompt tuning has nothing to add. It shows '
            'that a soft prompt selects and steers what the model knows rather than teaching it new facts. (Its texts also stay '
            'in `public/datasets/` because the demo model\'s corpus was built without them: keeping them keeps the model '
            'reproducible.)'),
        'template': 'Tweet text : {text} Label : ',
    },
    'department': {
        'title': 'department: which team should handle this post?',
        'teaches': (
            'Six-way routing of the complaint task\'s own posts to the team that should answer them: `internet`, `delivery`, '
            '`travel`, `food`, `banking` or `tech`. Same posts, another question: the soft prompt, not the text, decides which '
            'annotation the frozen model writes after `Label :`. Without one the model answers with sentiment words about half '
            'the time and sector words the other half (about 45% right, against 19% for the majority class); a trained prompt '
            'makes it answer the sector every time, and per-label accuracy shows which teams it separates first.'),
        'template': 'Tweet text : {text} Label : ',
    },
    'support-reply': {
        'title': 'support-reply: answer a complaint in the house style',
        'teaches': (
            'Generation: the prompt is a complaint post, the completion is the reply in one fixed house style, '
            '"Hi from the <Company> care team! Sorry about your <item>. Send us a DM and we will fix it today." The company name '
            'must be read off the @handle and the item off the post ("Sorry about this." when the post names none). Given only the post, the base model continues it with '
            'something else (another post, a verdict, one of many reply styles); the soft prompt teaches it to answer, and to '
            'answer in this style.'),
        'template': '{prompt}',
    },
}


def unique(draw, n: int, seen: set[str]) -> list:
    out = []
    while len(out) < n:
        x = draw()
        key = x['text'] if 'text' in x else x['prompt']
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def balanced(rng: random.Random, makers: dict, n_per_label: int, seen: set[str], keep_posts: bool = False) -> list:
    rows = []
    for label, make in makers.items():
        def draw():
            p = make()
            return {'text': p.text, 'label': label, 'post': p}
        rows += unique(draw, n_per_label, seen)
    rng.shuffle(rows)
    return rows if keep_posts else [{'text': r['text'], 'label': r['label']} for r in rows]


def build(seed: int) -> dict[str, dict[str, list]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    complaint = {'complaint': lambda: complaint_post(rng), 'no complaint': lambda: non_complaint_post(rng)}
    topic = {t: (lambda t=t: topic_post(rng, t)) for t in TOPIC_LABELS}

    def support():
        p = complaint_post(rng)
        completion = reply(rng, p, house=True)
        # Some complaint templates never name the item; the reply must not invent one. (Fixed here,
        # not in posts.reply, which also writes the corpus the committed model was trained on.)
        if p.item not in p.text:
            completion = completion.replace(f'Sorry about your {p.item}.', 'Sorry about this.')
        return {'prompt': p.text, 'completion': completion}

    # The draw order is part of the data: changing it changes every later task's texts, and with
    # them the pretraining corpus (which excludes them). Add new tasks by deriving, not drawing.
    posts = {'train': balanced(rng, complaint, 150, seen, keep_posts=True), 'test': balanced(rng, complaint, 75, seen, keep_posts=True)}
    tasks = {
        'complaint': {s: [{'text': r['text'], 'label': r['label']} for r in rows] for s, rows in posts.items()},
        'topic': {'train': balanced(rng, topic, 40, seen), 'test': balanced(rng, topic, 25, seen)},
        'support-reply': {'train': unique(support, 160, seen), 'test': unique(support, 40, seen)},
    }
    tasks['department'] = {s: [{'text': r['text'], 'label': r['post'].sector} for r in rows] for s, rows in posts.items()}
    return tasks


def readme(task: str, splits: dict[str, list], seed: int) -> str:
    info = TASKS[task]
    lines = [f'# {info["title"]}', '', info['teaches'], '', '## Files', '']
    for split, rows in splits.items():
        lines.append(f'- `{task}.{split}.jsonl`: {len(rows)} rows')
        if 'label' in rows[0]:
            counts = Counter(r['label'] for r in rows)
            lines[-1] += ' (' + ', '.join(f'{k}: {v}' for k, v in sorted(counts.items())) + ')'
    example = splits['train'][0]
    lines += ['', f'Row format: `{json.dumps(example)}`', '',
              f'Input template the CLI and the app use by default: `{info["template"]}`', '',
              '## How it was made', '',
              f'Generated by `scripts/pretrain/make_datasets.py --seed {seed}` from the hand-written word lists and templates in '
              '`scripts/pretrain/lexicon.py` and `scripts/pretrain/posts.py` (project-written text, same licence as the project; '
              'companies, handles and people are invented). Train and test share no text. None of these texts occurs in the '
              'pretraining corpus of `public/models/playground-demo` (`scripts/pretrain/pretrain.py` excludes every `text` and '
              '`prompt` found in `public/datasets/`).']
    if 'label' in example:
        counts = Counter(r['label'] for r in splits['test'])
        lines += ['', f'Majority-class baseline on the test split: {100 * max(counts.values()) / len(splits["test"]):.0f}%.']
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'public', 'datasets'))
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for task, splits in build(args.seed).items():
        for split, rows in splits.items():
            with open(os.path.join(args.out, f'{task}.{split}.jsonl'), 'w', encoding='utf-8') as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in rows)
        with open(os.path.join(args.out, f'{task}.README.md'), 'w', encoding='utf-8') as f:
            f.write(readme(task, splits, args.seed))
        print(task, {s: len(r) for s, r in splits.items()})


if __name__ == '__main__':
    main()
