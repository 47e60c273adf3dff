// A content hash of a dataset (its rows and test rows): the key it is stored under in the browser
// and the name a run's split carries, so a split is never applied to other rows.
import type { Row } from './parse.ts';

export async function datasetHash(rows: Row[], testRows: Row[] | null): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([rows, testRows]));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}
