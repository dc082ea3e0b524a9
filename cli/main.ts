/**
 * The `tps-deploy` command line. {@link run} parses one argv and runs one command with injectable
 * I/O (tests call it in-process); {@link main} is the process entry that bin/tps-deploy.js calls.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliContext, type GlobalOptions } from './context.js';
import { CliError, type CliIo, EXIT_CODES, line, processIo } from './io.js';

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer.`);
    return n;
  };
}

function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number.`);
    return n;
  };
}

function nonNegativeNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${flag} must be a number, 0 or more.`);
    }
    return n;
  };
}

function version(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

const EXIT_HELP = `
Exit codes:
  0  done; a followed (start --follow, watch, status --watch) or local release SUCCEEDED
  1  error (AWS or cluster unreachable, not found, ...), the release FAILED, or a doctor check FAILED
  2  bad usage: unknown command or flag, bad flag value, invalid release input
  3  the release was ROLLED_BACK
  4  the release was REJECTED
  5  rolling back failed: the service needs a person
  6  the execution was ABORTED or TIMED_OUT

AWS: credentials and region from the usual chain; --region / AWS_REGION and --profile / AWS_PROFILE.
The runbook: --stack <name> (a deployed stack) or --config <file> (a catalog); outside this
repository without either, AWS-facing commands refuse.
Local: --local talks to the running \`tps-deploy local\` instead (watch, list, status, history, report, start).
Docs: docs/cli.md`;

/** The commands `--local` serves; every other one refuses it (exit 2) before any call. */
const LOCAL_COMMANDS: readonly string[] = ['watch', 'list', 'status', 'history', 'report', 'start'];

/** The commands that change things: with --config and --stack differing for their service, they refuse. */
const CHANGING_COMMANDS: readonly string[] = [
  'start',
  'abort',
  'rollback',
  'unlock',
  'approve',
  'reject',
  'hold',
  'promote',
];

/** Builds the program; `done(code)` receives each command's exit code. */
function buildProgram(io: CliIo, done: (code: number) => void): Command {
  const program = new Command('tps-deploy')
    .description('Release services on Amazon EKS through the tps-deploy Step Functions pipeline')
    .version(version(), '-V, --version')
    .option('--region <region>', 'AWS region (default: AWS_REGION or the profile)')
    .option('--profile <profile>', 'AWS shared-config profile (default: AWS_PROFILE)')
    .option(
      '--stack <name>',
      'the deployed stack: its TpsDeployRunbook output gives the region, table, state machines, answer endpoint and catalog (default: $TPS_STACK)',
    )
    .option(
      '--config <file>',
      'service catalog module (default: the --stack one, else ./tps.config.ts, else inside this repository its own); with --stack the file gives the catalog, the stack the names',
    )
    .option('--table <name>', 'deployments table (default: the --stack one, else <appName>-deployments)')
    .option(
      '--local',
      'talk to the running `tps-deploy local` environment (state file: $TPS_LOCAL_STATE, else tps-deploy-local.json in the temp directory) instead of AWS; its catalog, table, Step Functions and DynamoDB',
    )
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride()
    .addHelpText('after', EXIT_HELP);

  const ctxFor = (cmd: Command) => new CliContext(io, cmd.optsWithGlobals<GlobalOptions>());
  /**
   * Runs a command. An AWS-facing one (`aws` true, or true for its options) first resolves where
   * the runbook comes from (the stack, the catalog), so a run without either refuses before any call.
   */
  const act =
    <A extends unknown[]>(
      fn: (ctx: CliContext, ...args: A) => Promise<number>,
      aws: boolean | ((opts: Record<string, unknown>) => boolean) = true,
    ) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      const positional = args.slice(0, -2);
      const opts = cmd.optsWithGlobals();
      if (opts.local) {
        const name = cmd.parent && cmd.parent !== program ? `${cmd.parent.name()} ${cmd.name()}` : cmd.name();
        if (cmd.parent !== program || !LOCAL_COMMANDS.includes(name)) {
          throw new CliError(
            `--local: ${name} does not run against the local environment; --local works with ${LOCAL_COMMANDS.slice(0, -1).join(', ')} and ${LOCAL_COMMANDS.at(-1)} only`,
            EXIT_CODES.usage,
          );
        }
      }
      const ctx = ctxFor(cmd);
      ctx.changes = CHANGING_COMMANDS.includes(cmd.name()) && cmd.parent === program;
      if (typeof aws === 'function' ? aws(opts) : aws) await ctx.prepare();
      done(await fn(ctx, ...([...positional, opts] as unknown as A)));
    };

  program
    .command('start')
    .description('validate a release input against the catalog and start the state machine')
    .requiredOption('--service <name>', 'service of the catalog')
    .option('--image <image>', 'new image of the first container (tag or digest required)')
    .option('--images <list>', 'new images per container: c=img,c2=img2')
    .option('--hotfix', 'hotfix mode: staging skipped, short canary, longer watch')
    .option('--requested-by <who>', 'who asks (default: $USER)')
    .option('--change-ref <ref>', 'change ticket, e.g. CHG-2041')
    .option('--tests-passed', 'attest that the tests passed (the attestations gate)')
    .option('--reviewers <list>', 'who reviewed the change: alice,bob (the attestations gate)')
    .option('--risk-acknowledgement <text>', 'hotfix only: accept shipping short of reviews')
    .option(
      '--input-file <file>',
      'JSON execution input (attestations, migration); flags override its fields',
    )
    .option('--name <name>', 'execution name = deployment id (default: generated)')
    .option('--state-machine-arn <arn>', 'state machine (default: <appName>-<service> via ListStateMachines)')
    .option(
      '--answer-url <url>',
      "start through the answer endpoint, as your verified AWS identity (default: the stack's AnswerUrl output, else $TPS_ANSWER_URL; without one: StartExecution, requester unverified)",
    )
    .option('--follow', 'show phases, waits and verdicts until the execution ends; exit with its outcome')
    .option(
      '--poll-interval <seconds>',
      'seconds between polls with --follow',
      positiveNumber('--poll-interval'),
      5,
    )
    .option(
      '--json',
      'print {executionArn, deploymentId, startDate, links} as JSON; with --follow, progress on stderr and the summary of watch --json on stdout',
    )
    .action(
      act(async (ctx, opts: Parameters<typeof import('./commands/start.js').startCommand>[1]) =>
        (await import('./commands/start.js')).startCommand(ctx, opts),
      ),
    );

  program
    .command('status')
    .description('the record of a deployment and the state of its execution, with console links')
    .argument('<id>', 'deployment id or execution ARN')
    .option('--service <name>', 'service (default: looked up in every service of the catalog)')
    .option('--json', 'print the record as JSON (docs/record-format.md) plus the execution and links')
    .option(
      '--watch',
      'print it again every --interval seconds until the release ends; exit with its outcome',
    )
    .option('--interval <seconds>', 'seconds between prints with --watch', positiveNumber('--interval'), 10)
    .action(
      act(async (ctx, id: string, opts: import('./commands/records.js').StatusOptions) =>
        (await import('./commands/records.js')).statusCommand(ctx, id, opts),
      ),
    );

  program
    .command('watch')
    .description(
      'attach to a release and show its progress as start --follow does, until it ends; exit with its outcome',
    )
    .argument('<id>', 'deployment id (the execution name) or execution ARN')
    .option('--service <name>', 'service (default: looked up in every service of the catalog)')
    .option('--poll-interval <seconds>', 'seconds between polls', positiveNumber('--poll-interval'), 5)
    .option(
      '--json',
      'progress on stderr; on stdout one JSON object at the end: {service, deploymentId, executionArn, status, error, cause, outcome, exitCode, links}',
    )
    .action(
      act(async (ctx, id: string, opts: import('./commands/watch.js').WatchOptions) =>
        (await import('./commands/watch.js')).watchCommand(ctx, id, opts),
      ),
    );

  program
    .command('list')
    .description("the releases running now across the catalog's services (the table's locks)")
    .option('--service <name>', 'only this service')
    .option('--json', 'print an array of running releases as JSON')
    .action(
      act(async (ctx, opts: import('./commands/list.js').ListOptions) =>
        (await import('./commands/list.js')).listCommand(ctx, opts),
      ),
    );

  program
    .command('history')
    .description("a service's deployments, newest first")
    .requiredOption('--service <name>', 'service of the catalog')
    .option('--limit <n>', 'how many', positiveInt('--limit'), 10)
    .option('--json', 'print an array of records as JSON')
    .action(
      act(async (ctx, opts: { service: string; limit: number; json?: boolean }) =>
        (await import('./commands/records.js')).historyCommand(ctx, opts),
      ),
    );

  program
    .command('report')
    .description('the report of one deployment: text, Markdown release checklist, HTML page or JSON')
    .argument('[id]', 'deployment id or execution ARN')
    .option('--service <name>', 'service (default: looked up in every service of the catalog)')
    .option('--md', 'Markdown in the layout of the release checklist')
    .option('--html <file>', 'write a self-contained HTML page (charts work offline)')
    .option('--json', 'the record as JSON (docs/record-format.md)')
    .option(
      '--file <record.json>',
      'read the full record from a file (local --record-out) instead of the table',
    )
    .action(
      act(
        async (
          ctx,
          id: string | undefined,
          opts: { service?: string; md?: boolean; html?: string; json?: boolean; file?: string },
        ) => (await import('./commands/records.js')).reportCommand(ctx, id, opts),
        (opts) => !opts.file,
      ),
    );

  const clusterAccess = (cmd: Command) =>
    cmd
      .option(
        '--answer-url <url>',
        "the answer endpoint, which acts as your verified AWS identity (default: the stack's AnswerUrl output, else $TPS_ANSWER_URL)",
      )
      .option(
        '--kubeconfig <file>',
        'act in-process on this cluster instead (a local cluster, or break-glass with your own table and cluster access; recorded as --requested-by, unverified)',
      )
      .option('--context <name>', 'context of --kubeconfig')
      .option(
        '--topic-arn <arn>',
        'with --kubeconfig: notifications topic (default: <appName>-notifications of the execution)',
      )
      .option('--requested-by <who>', 'with --kubeconfig: who (default: $USER)')
      .option('--reason <text>', 'why, for the record and the notification')
      .option('--json', 'print the result as JSON');

  clusterAccess(
    program
      .command('abort')
      .description('stop a running release and roll it back (through the answer endpoint)')
      .argument('<id>', 'deployment id or execution ARN')
      .option('--service <name>', 'service (default: looked up in every service of the catalog)'),
  ).action(
    act(async (ctx, id: string, opts: import('./commands/abort.js').PersonRollbackOptions) =>
      (await import('./commands/abort.js')).abortCommand(ctx, id, opts),
    ),
  );

  clusterAccess(
    program
      .command('rollback')
      .description(
        'take the latest release of a service back to its recorded previous version (through the answer endpoint)',
      )
      .requiredOption('--service <name>', 'service of the catalog'),
  ).action(
    act(async (ctx, opts: import('./commands/abort.js').PersonRollbackOptions) =>
      (await import('./commands/abort.js')).rollbackCommand(ctx, opts),
    ),
  );

  program
    .command('unlock')
    .description(
      "free a service's lock that an ended release left behind (refused while its release may still act)",
    )
    .requiredOption('--service <name>', 'service of the catalog')
    .option('--reason <text>', 'why, for the record')
    .option(
      '--answer-url <url>',
      "the answer endpoint (default: the stack's AnswerUrl output, else $TPS_ANSWER_URL)",
    )
    .option('--json', 'print the result as JSON')
    .action(
      act(async (ctx, opts: import('./commands/unlock.js').UnlockOptions) =>
        (await import('./commands/unlock.js')).unlockCommand(ctx, opts),
      ),
    );

  const steer = (name: 'approve' | 'reject' | 'hold' | 'promote', description: string) =>
    program
      .command(name)
      .description(description)
      .argument('<id>', 'deployment id or execution ARN')
      .option('--service <name>', 'service (default: looked up in every service of the catalog)')
      .option('--requested-by <who>', 'who (default: $USER)')
      .option('--reason <text>', 'comment for the record')
      .option(
        '--answer-url <url>',
        "the answer endpoint (default: the stack's AnswerUrl output, else $TPS_ANSWER_URL)",
      )
      .option('--json', 'print the result as JSON')
      .action(
        act(async (ctx, id: string, opts: import('./commands/steer.js').SteerOptions) => {
          const m = await import('./commands/steer.js');
          const fn = {
            approve: m.approveCommand,
            reject: m.rejectCommand,
            hold: m.holdCommand,
            promote: m.promoteCommand,
          }[name];
          return fn(ctx, id, opts);
        }),
      );
  steer('approve', 'approve a release waiting for approval, or promote a hold (through the answer endpoint)');
  steer('reject', 'reject a release waiting for approval, or abort a hold (through the answer endpoint)');
  steer('hold', 'hold the release after its next passing window, until promote or abort');
  steer('promote', 'promote a held release (or withdraw a hold not yet reached)');

  program
    .command('doctor')
    .description(
      'check everything a first release needs against the real environment: credentials, the stack, the cluster endpoint, access entries, Roles, workloads, routers, metrics, alarms, on-call',
    )
    .option('--service <name>', 'only this service (default: every service of the catalog)')
    .option(
      '--kubeconfig <file>',
      'read the clusters through this kubeconfig (default: EKS DescribeCluster and a token of your AWS identity)',
    )
    .option('--context <name>', 'context of --kubeconfig')
    .option('--json', 'print {ok, stack, service, checks: [{check, subject, status, detail, fix}]} as JSON')
    .action(
      act(
        async (ctx, opts: import('./commands/doctor.js').DoctorOptions) =>
          (await import('./commands/doctor.js')).doctorCommand(ctx, opts),
        // It resolves the stack itself: a stack without a runbook is its FAIL, not an error.
        false,
      ),
    );

  program
    .command('local')
    .description('run one release in-process (the synthesized state machine) against a local cluster')
    .addOption(
      new Option(
        '--scenario <name>',
        'traffic scenario: healthy, crash, error-spike, latency-regression, ...',
      ).default('healthy'),
    )
    .option('--traffic <profile.json>', 'a traffic profile file instead of a scenario')
    .option('--image <image>', 'new image (default: the next minor version of the current one)')
    .option('--mode <mode>', 'hotfix (staging skipped, short canary)')
    .option(
      '--speed <n>',
      'virtual seconds per real second in windows (default 10000)',
      positiveNumber('--speed'),
    )
    .option('--json', 'print the record as JSON (docs/record-format.md)')
    .option('--kubeconfig <file>', 'use this cluster instead of starting the embedded control plane')
    .option('--context <name>', 'context of --kubeconfig')
    .option(
      '--functions-kubeconfig <file>',
      'one identity every cluster task acts with (default: a read and a write identity of the app, minted on a tps-deploy local cluster; else --kubeconfig)',
    )
    .option('--namespace <ns>', 'namespace of the demo service', 'tps-local')
    .option('--requested-by <who>', 'who (default: $USER)')
    .option('--change-ref <ref>', 'change ticket')
    .option('--record-out <file>', 'also write the full record as JSON (input of report --file)')
    .option('--report <file.html>', 'also write the HTML report')
    .option(
      '--hpa',
      'put a HorizontalPodAutoscaler (4-8 replicas) on the demo service; on the embedded cluster its pods run above the target, so it scales during the release',
    )
    .option(
      '--linger <seconds>',
      'after the release, keep serving CLIs attached with --local until they have been quiet this long (default 12)',
      nonNegativeNumber('--linger'),
    )
    .action(
      act(
        async (ctx, opts: import('./commands/local.js').LocalOptions) =>
          (await import('./commands/local.js')).localCommand(ctx, opts),
        false,
      ),
    );

  const cluster = program.command('cluster').description('the embedded local Kubernetes control plane');
  for (const [action, description] of [
    ['up', 'start it; prints the admin kubeconfig path'],
    ['down', 'stop it and remove its state'],
    ['status', 'whether it is up, its processes, kubeconfig and nodes'],
  ] as const) {
    cluster
      .command(action)
      .description(description)
      .option('--name <name>', 'cluster name', 'local')
      .option('--json', 'print JSON')
      .action(
        act(
          async (ctx, opts: { name: string; json?: boolean }) =>
            (await import('./commands/cluster.js')).clusterCommand(ctx, action, opts),
          false,
        ),
      );
  }
  return program;
}

/**
 * Runs one command line (without the `node` and script arguments) and resolves with its exit code.
 * Errors become one line on stderr; nothing calls process.exit.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT_CODES.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_CODES.usage;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (it names the flag) and the hint already.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
        return EXIT_CODES.ok;
      if (error.code === 'commander.help') return EXIT_CODES.ok;
      return EXIT_CODES.usage;
    }
    if (error instanceof CliError) {
      line(io.stderr, `tps-deploy: ${error.message}`);
      return error.exitCode;
    }
    const e = error as Error;
    line(io.stderr, `tps-deploy: ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`);
    if ((io.env ?? process.env).TPS_DEBUG) line(io.stderr, e?.stack ?? '');
    return EXIT_CODES.failed;
  }
}

/** The process entry: runs `process.argv` and sets the exit code. */
export async function main(): Promise<void> {
  const code = await run(process.argv.slice(2), processIo());
  process.exitCode = code;
  // SDK keep-alive sockets or cluster watchers must not keep a finished command alive.
  setTimeout(() => process.exit(code), 1000).unref();
}
