import { writeFileSync } from 'node:fs';
import { DEFAULT_SUITE_ROWS, makeSuite, pickSuiteRows, serializeSuite, suiteLabels } from '../../engine/run/suite.ts';
import { UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { DATA_FLAGS, DEFAULT_TEST_DATA, readExamples } from '../context.ts';
import { emit } from '../output.ts';

/** Pins a task's suite from labelled rows: the same file the Adapters panel downloads and `eval --suite` reads. */
export const suite: Command = {
  spec: {
    name: 'suite',
    summary: "Writes a task's evaluation suite: up to --rows labelled examples, taken round-robin over the labels.",
    usage: 'suite --task NAME --data FILE [--rows N] [--template T] --out FILE.suite.json',
    flags: [
      { name: 'task', type: 'string', help: 'the task the suite guards (the page uses the dataset name)', required: true },
      { name: 'data', type: 'string', help: 'JSONL or CSV file of held-out text+label rows', default: DEFAULT_TEST_DATA },
      ...DATA_FLAGS,
      { name: 'rows', type: 'int', help: 'most rows to keep', default: DEFAULT_SUITE_ROWS },
      { name: 'out', type: 'string', help: 'suite file to write', required: true },
    ],
  },
  async run(flags) {
    const data = readExamples(flags.data as string, flags);
    if (data.mapping.kind !== 'label') throw new UsageError(`suite: ${data.name} is a generation dataset; a suite scores labels (text+label rows)`);
    if ((flags.rows as number) < 1) throw new UsageError('suite: --rows must be at least 1');
    const s = await makeSuite(
      flags.task as string,
      pickSuiteRows(data.examples, flags.rows as number),
      `${Math.min(flags.rows as number, data.examples.length)} of the ${data.examples.length} rows of ${data.name}`,
    );
    writeFileSync(flags.out as string, serializeSuite(s));
    emit({ out: flags.out, task: s.task, hash: s.hash, rows: s.examples.length, labels: suiteLabels(s), source: s.source });
  },
};
