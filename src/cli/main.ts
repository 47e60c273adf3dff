// `npm run -s cli -- <command> ...`: the engine without a browser. JSON on stdout, always.
import { UsageError, helpText, parseFlags } from './args.ts';
import type { Command } from './command.ts';
import { evaluate } from './commands/eval.ts';
import { forward } from './commands/forward.ts';
import { generate } from './commands/generate.ts';
import { init } from './commands/init.ts';
import { merge } from './commands/merge.ts';
import { serve } from './commands/serve.ts';
import { suite } from './commands/suite.ts';
import { tokenize } from './commands/tokenize.ts';
import { train } from './commands/train.ts';
import { emit } from './output.ts';

const COMMANDS: Command[] = [tokenize, init, forward, train, evaluate, suite, generate, merge, serve];

function usage(): string {
  return ['prompt-tuning playground CLI: npm run -s cli -- <command> [flags]   (<command> --help for its flags)', '', ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(10)} ${c.spec.summary}`)].join(
    '\n',
  );
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) throw new UsageError(`unknown command "${name}" (commands: ${COMMANDS.map((c) => c.spec.name).join(', ')})`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText(command.spec) + '\n');
    return 0;
  }
  await command.run(parseFlags(command.spec, rest));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = process.exitCode || code;
  },
  (e: unknown) => {
    const err = e as Error;
    emit({ error: err.message ?? String(e), kind: err.name ?? 'Error' });
    if (process.env.PT_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
