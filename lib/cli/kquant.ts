#!/usr/bin/env node
// The `kquant` command: parses the command line and hands over to one command module. Commands are
// imported only when chosen, so help and usage errors work even when the native addon cannot load.
import { parseArgs } from 'node:util';
import { UsageError, usage } from './usage.js';

const USAGE_EXIT = 2;

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, Command> = {
  async info(args) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
    (await import('./info.js')).infoCommand(values.json);
  },
  async bench(args) {
    const { values } = parseArgs({
      args,
      options: {
        json: { type: 'string' },
        quick: { type: 'boolean', default: false },
        ops: { type: 'string' },
        sizes: { type: 'string' },
      },
      strict: true,
    });
    (await import('./bench.js')).benchCommand(values);
  },
  async quantize(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { to: { type: 'string' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean', default: false } },
      strict: true,
    });
    await (await import('./quantize.js')).quantizeCommand(positionals, values);
  },
  async inspect(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } }, strict: true });
    (await import('./inspect.js')).inspectCommand(positionals, values.json);
  },
  async compare(args) {
    const { values, positionals } = parseArgs({
      args: bareJsonToStdout(args),
      allowPositionals: true,
      options: { formats: { type: 'string' }, json: { type: 'string' }, html: { type: 'string' }, tensors: { type: 'string' } },
      strict: true,
    });
    await (await import('./compare.js')).compareCommand(positionals, values);
  },
  async help() {
    process.stdout.write(usage(await opIds()));
  },
};

// `--json` takes a file only when one follows (a name ending in .json, or '-'); alone it means stdout.
function bareJsonToStdout(args: string[]): string[] {
  return args.map((a, i) => (a === '--json' && !(args[i + 1] === '-' || args[i + 1]?.endsWith('.json')) ? '--json=-' : a));
}

async function opIds(): Promise<string[] | undefined> {
  try {
    const { LAYER_BENCH_IDS } = await import('../../bench/layers.js');
    return [...(await import('../../bench/suites/index.js')).ALL_OPS.map((op) => op.id), ...LAYER_BENCH_IDS];
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(usage(await opIds()));
    process.exitCode = USAGE_EXIT;
    return;
  }
  if (name === '--help' || name === '-h' || rest.includes('--help') || rest.includes('-h')) return commands.help!([]);
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) throw new UsageError(`Unknown command '${name}'`);
  await command(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || errorCode(err).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`kquant: ${(err as Error).message}\nRun 'kquant --help' for usage.\n`);
    process.exitCode = USAGE_EXIT;
    return;
  }
  // kquant's own errors (KQ_* codes) explain themselves; anything else is a bug, so show where.
  const text = err instanceof Error ? (errorCode(err).startsWith('KQ_') ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`kquant: ${text}\n`);
  process.exitCode = 1;
});
