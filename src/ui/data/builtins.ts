// The example datasets that ship with the playground (public/datasets/<id>.train.jsonl and
// .test.jsonl). Only those whose files are present are offered.

export interface BuiltinDataset {
  id: string;
  title: string;
  summary: string;
  template: string;
  /** A natural-language phrase for TEXT init that suits the task. */
  initText: string;
}

export const BUILTIN_DATASETS: BuiltinDataset[] = [
  {
    id: 'complaint',
    title: 'Complaint or not',
    summary: "PEFT cookbook's twitter_complaints task in miniature: label short posts to companies as `complaint` or `no complaint`.",
    template: 'Tweet text : {text} Label : ',
    initText: 'Classify if the tweet is a complaint or not:',
  },
  {
    id: 'department',
    title: 'Department routing',
    summary: 'The complaint posts again, another question: which team should answer (internet, delivery, travel, food, banking or tech).',
    template: 'Tweet text : {text} Label : ',
    initText: 'Which team should handle this post: internet, delivery, travel, food, banking or tech?',
  },
  {
    id: 'topic',
    title: 'Topic of a post',
    summary: 'Four-way classification of everyday posts: sports, food, weather or tech. The contrast case: the demo model already does it without a prompt.',
    template: 'Tweet text : {text} Label : ',
    initText: 'Classify the topic of the post as sports, food, weather or tech:',
  },
  {
    id: 'support-reply',
    title: 'Support reply (generation)',
    summary: 'Answer a complaint in one fixed house style, naming the company and the item.',
    template: '{prompt}',
    initText: 'Reply to the customer complaint politely:',
  },
  {
    id: 'smoke',
    title: 'Smoke test (32 posts)',
    summary: 'A tiny complaint-or-not set: trains in seconds, for trying the controls.',
    template: 'Tweet text : {text} Label : ',
    initText: 'Classify if the tweet is a complaint or not:',
  },
];

export function datasetUrl(id: string, split: 'train' | 'test' | 'README'): string {
  return `${import.meta.env.BASE_URL}datasets/${id}.${split === 'README' ? 'README.md' : `${split}.jsonl`}`;
}

/** Fetches a text file; null when the server does not have it. */
export async function fetchText(url: string): Promise<string | null> {
  try {
    const res = await fetch(url);
    if (!res.ok || (res.headers.get('content-type') ?? '').startsWith('text/html')) return null;
    return await res.text();
  } catch {
    return null;
  }
}

/** Which built-in datasets are present on this server. */
export async function availableBuiltins(): Promise<BuiltinDataset[]> {
  const present = await Promise.all(
    BUILTIN_DATASETS.map(async (d) => {
      try {
        const res = await fetch(datasetUrl(d.id, 'train'), { method: 'HEAD' });
        return res.ok && !(res.headers.get('content-type') ?? '').startsWith('text/html');
      } catch {
        return false;
      }
    }),
  );
  return BUILTIN_DATASETS.filter((_, i) => present[i]);
}
