// A small declarative flag parser: every command lists its flags once, and gets --help and
// clear errors for unknown flags, missing values and wrong types from that list.

export type FlagType = 'string' | 'number' | 'int' | 'boolean';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  required?: boolean;
  default?: string | number | boolean;
  /** May be given more than once (string flags): the values in order, as a list. */
  repeatable?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
}

export type ParsedFlags = Record<string, string | string[] | number | boolean | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseFlags(spec: CommandSpec, argv: string[]): ParsedFlags {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const out: ParsedFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`${spec.name}: unexpected argument "${arg}" (flags start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = byName.get(name);
    if (!flag) throw new UsageError(`${spec.name}: unknown flag --${name} (known: ${spec.flags.map((f) => '--' + f.name).join(' ')})`);
    if (flag.type === 'boolean') {
      out[name] = eq < 0 ? true : !['false', '0', 'no'].includes(arg.slice(eq + 1));
      continue;
    }
    const raw = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new UsageError(`${spec.name}: --${name} needs a value`);
    if (flag.type === 'string' && flag.repeatable) out[name] = [...((out[name] as string[] | undefined) ?? []), raw];
    else if (flag.type === 'string') out[name] = raw;
    else {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (flag.type === 'int' && !Number.isInteger(n))) {
        throw new UsageError(`${spec.name}: --${name} must be ${flag.type === 'int' ? 'an integer' : 'a number'}, got "${raw}"`);
      }
      out[name] = n;
    }
  }
  for (const f of spec.flags) {
    if (out[f.name] === undefined && f.default !== undefined) out[f.name] = f.default;
    if (f.required && out[f.name] === undefined) throw new UsageError(`${spec.name}: --${f.name} is required (${f.help})`);
  }
  return out;
}

export function helpText(spec: CommandSpec): string {
  const width = Math.max(...spec.flags.map((f) => f.name.length + (f.type === 'boolean' ? 0 : f.type.length + 3)));
  const lines = [`${spec.summary}`, '', `usage: ${spec.usage}`, '', 'flags:'];
  for (const f of spec.flags) {
    const left = `--${f.name}${f.type === 'boolean' ? '' : ` <${f.type}>`}`;
    const extra = (f.required ? ' (required)' : f.default !== undefined ? ` (default ${JSON.stringify(f.default)})` : '') + (f.repeatable ? ' (repeatable)' : '');
    lines.push(`  ${left.padEnd(width + 4)}  ${f.help}${extra}`);
  }
  return lines.join('\n');
}
