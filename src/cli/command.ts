import type { CommandSpec, ParsedFlags } from './args.ts';

export interface Command {
  spec: CommandSpec;
  run(flags: ParsedFlags): Promise<void>;
}
