// The base of every fleet command. It decides once whether the command may ask questions, owns what reaches
// stdout and stderr and the exit code, and turns FleetErrors into a message with its fix (or a JSON error) and
// the documented exit code.
import {homedir} from 'node:os'
import {stripVTControlCharacters} from 'node:util'

import {Command} from '@oclif/core'

import type {CollectedAgents} from '../agents/collect.ts'
import {followRunner} from '../agents/runner-record.ts'
import {ExitCode, explainSystemError, FleetError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import type {SyncOptions, SyncResult} from '../sync/engine.ts'

/** What a service has to say, for FleetCommand.render: lines for a person, warnings, a failure for stderr, an exit code. */
export interface CommandOutput {
  /** Lines for stdout, each printed with a newline; only without --json (with it, run()'s result is the output). */
  lines?: string[]
  /** One-line warnings for stderr (oclif's `Warning:` form); only without --json. */
  warnings?: string[]
  /** Printed to stderr as it is (it ends with a newline), and only without --json. */
  failure?: string
  /** The exit code the process ends with once the command returns (ExitCode: 0-4); unchanged when absent. */
  exitCode?: number
}

/** @inquirer/prompts' errors for Ctrl-C (ExitPromptError) and for a terminal that closed (AbortPromptError). */
function isPromptClosed(error: Error): boolean {
  return error.name === 'ExitPromptError' || error.name === 'AbortPromptError'
}

/**
 * The base of every fleet command, the core's and the plugins' (a plugin's command extends it instead of oclif's
 * Command). What it adds to oclif's Command:
 * - `run()` returns the command's result: with `static enableJsonFlag = true`, `--json` prints it on stdout as JSON,
 *   and nothing else reaches stdout (`this.log`, `this.warn` and render() print only without --json).
 * - Errors (catch): a FleetError thrown from run() (UsageError exit 2, ForgeUnreachableError 3, ConflictError 4, a
 *   FleetError with its own `code` and `exitCode`, else 1) is printed as `Error: <message>` and `Fix: <fix>` on
 *   stderr, or with --json as `{"error": {"code", "message", "fix", "exitCode"}}` on stdout, and the process exits with
 *   its exit code. A full disk or a refused write (ENOSPC, EACCES, …) is said in words with a fix; oclif's own errors
 *   (an unknown flag, a missing argument: exit 2) get the same compact JSON; anything else is left to oclif (exit 1).
 * - `interactive`, render(), exitNow(), onStopSignal() and toStderr() below.
 */
export abstract class FleetCommand extends Command {
  /**
   * Whether the command may ask questions: true when stdin and stdout are terminals, --json is off and CI is unset;
   * decided in init(). Without it, ask nothing: take a flag (`--yes`) or fail with a UsageError that names it.
   */
  protected interactive = false

  /** Sets `interactive`, and stops an agent started by `fleet agents run` when its runner is gone; call it first in an override. */
  override async init(): Promise<void> {
    await super.init()
    followRunner() // an agent of `fleet agents run` stops when the runner is gone
    this.interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY) && !this.jsonEnabled() && !process.env.CI
  }

  /** This machine's agents (the core's and the plugins'); a plugin that could not contribute is reported, unless `quiet`. */
  protected async contributedAgents(options: {quiet?: boolean} = {}): Promise<CollectedAgents> {
    const {collectAgents} = await import('../agents/collect.ts')
    const collected = await collectAgents(this.config)
    if (!options.quiet) for (const failure of collected.failures) this.warn(`Plugin ${failure.source} could not contribute agents: ${failure.error}`)
    return collected
  }

  /**
   * Print what a service said (its lines on stdout and its warnings on stderr, only without --json; its failure on
   * stderr) and take its exit code: the command goes on to return its result (printed under --json) and the process
   * then ends with that code.
   */
  protected render(output: CommandOutput): void {
    for (const line of output.lines ?? []) this.log(line)
    for (const warning of output.warnings ?? []) this.warn(warning)
    if (output.failure && !this.jsonEnabled()) this.toStderr(output.failure)
    // The report is complete (text or JSON): the exit code says what it means.
    if (output.exitCode !== undefined) process.exitCode = output.exitCode
  }

  /** The one sync, reported the way `fleet sync` reports it (its exit code too): after a change, or on its own. */
  protected async syncAndReport(local: LocalFleet, options: SyncOptions): Promise<SyncResult> {
    const [{sync}, {managedRoots, reportSync}] = await Promise.all([import('../sync/engine.ts'), import('../sync/describe.ts')])
    const result = await sync(local, options)
    this.render(reportSync(result, await managedRoots(local, result)))
    return result
  }

  /**
   * End the process now with `code` (an ExitCode, 0-4), once what was written to stdout and stderr has been handed to
   * the OS: for a command whose stopped work (a check past its time limit, a plugin's hook that never settles) may
   * leave timers or processes behind that would keep Node running. Never returns.
   */
  protected async exitNow(code: number): Promise<never> {
    await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))))
    process.exit(code)
  }

  /** Write `text` to stderr as it is (no newline added), with or without --json (a note while stopping, say). */
  protected toStderr(text: string): void {
    process.stderr.write(text)
  }

  /**
   * Run `stop` on Ctrl-C (SIGINT) or SIGTERM, every time one comes, instead of Node's default of ending at once: stop
   * what runs (abort a controller), then let run() finish and report what was done.
   */
  protected onStopSignal(stop: () => void): void {
    // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener is left to handle.
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }

  /** fleet's error report, as described above (FleetCommand); an override adds to it and calls `super.catch(error)`. */
  protected override async catch(raw: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // A full disk or a refused write is said in words, with the fix, whichever command met it.
    const error = isPromptClosed(raw)
      ? new FleetError('Stopped at the question: nothing more was changed.', {code: 'CANCELLED'})
      : explainSystemError(raw, homedir())
    if (!(error instanceof FleetError)) return this.jsonEnabled() ? this.otherErrorAsJson(raw) : super.catch(raw)
    if (this.jsonEnabled()) {
      this.logJson({error: {code: error.code, message: error.message, fix: error.fix, exitCode: error.exitCode}})
    } else {
      this.toStderr(`Error: ${error.message}\n${error.fix ? `Fix: ${error.fix}\n` : ''}`)
    }
    process.exitCode = error.exitCode
    return this.exit(error.exitCode === ExitCode.ok ? ExitCode.error : error.exitCode)
  }

  /**
   * Any other error under --json (oclif's own: an unknown flag, flags that exclude each other) as the same compact
   * `{"error": {code, message, exitCode}}` a FleetError gets, never the error object with everything it refers to.
   */
  private otherErrorAsJson(raw: Error & {code?: unknown; oclif?: {exit?: number}}): Promise<never> {
    if (raw.code === 'EEXIT') throw raw // this.exit(): an exit, not an error
    const exitCode = raw.oclif?.exit ?? ExitCode.error
    const code = exitCode === ExitCode.usage ? 'USAGE' : 'UNEXPECTED'
    // oclif colours parts of its messages, and adds a hint about --help on a line of its own.
    const message = stripVTControlCharacters(raw.message).trim()
    this.logJson({error: {code, message, exitCode}})
    process.exitCode = exitCode
    return this.exit(exitCode === ExitCode.ok ? ExitCode.error : exitCode)
  }
}
