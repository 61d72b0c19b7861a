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

/** What a service has to say: lines for a person, warnings, an error with its fix for stderr, an exit code. */
export interface CommandOutput {
  lines?: string[]
  warnings?: string[]
  /** Printed to stderr as it is (it ends with a newline), and only without --json. */
  failure?: string
  exitCode?: number
}

/** @inquirer/prompts' errors for Ctrl-C (ExitPromptError) and for a terminal that closed (AbortPromptError). */
function isPromptClosed(error: Error): boolean {
  return error.name === 'ExitPromptError' || error.name === 'AbortPromptError'
}

export abstract class FleetCommand extends Command {
  /** The command may ask questions: a terminal on stdin and stdout, no --json, and not under CI. */
  protected interactive = false

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

  /** Print what a service said (lines and warnings only without --json) and take its exit code. */
  protected render(output: CommandOutput): void {
    for (const line of output.lines ?? []) this.log(line)
    for (const warning of output.warnings ?? []) this.warn(warning)
    if (output.failure && !this.jsonEnabled()) this.toStderr(output.failure)
    // The report is complete (text or JSON): the exit code says what it means.
    if (output.exitCode !== undefined) process.exitCode = output.exitCode
  }

  /** The one sync, reported the way `fleet sync` reports it (its exit code too): after a change, or on its own. */
  protected async syncAndReport(local: LocalFleet, options: SyncOptions): Promise<SyncResult> {
    const [{sync}, {reportSync}] = await Promise.all([import('../sync/engine.ts'), import('../sync/describe.ts')])
    const result = await sync(local, options)
    this.render(reportSync(result))
    return result
  }

  /**
   * End the process now with `code`, once what was written to stdout and stderr has been handed to the OS: for a
   * command whose stopped work (a check past its time limit, a plugin's hook that never settles) may leave timers or
   * processes behind.
   */
  protected async exitNow(code: number): Promise<never> {
    await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))))
    process.exit(code)
  }

  /** Text for stderr as it is, with or without --json (a note while stopping, say). */
  protected toStderr(text: string): void {
    process.stderr.write(text)
  }

  /** Run `stop` on Ctrl-C or SIGTERM. */
  protected onStopSignal(stop: () => void): void {
    // `on`, not `once`: execa's signal-exit re-raises a signal that no other listener is left to handle.
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }

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
