// The base of every fleet command: FleetErrors become a message with its fix (or a JSON error) and the
// documented exit code.
import {homedir} from 'node:os'

import {Command} from '@oclif/core'

import type {CollectedAgents} from '../agents/collect.ts'
import {followRunner} from '../agents/runner-record.ts'
import {ExitCode, explainSystemError, FleetError} from '../errors/index.ts'

export abstract class FleetCommand extends Command {
  override async init(): Promise<void> {
    await super.init()
    followRunner() // an agent of `fleet agents run` stops when the runner is gone
  }

  /** This machine's agents (the core's and the plugins'); a plugin that could not contribute is reported. */
  protected async contributedAgents(): Promise<CollectedAgents> {
    const {collectAgents} = await import('../agents/collect.ts')
    const collected = await collectAgents(this.config)
    for (const failure of collected.failures) this.warn(`Plugin ${failure.source} could not contribute agents: ${failure.error}`)
    return collected
  }

  protected override async catch(raw: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // A full disk or a refused write is said in words, with the fix, whichever command met it.
    const error = explainSystemError(raw, homedir())
    if (!(error instanceof FleetError)) return super.catch(raw)
    if (this.jsonEnabled()) {
      this.logJson({error: {code: error.code, message: error.message, fix: error.fix, exitCode: error.exitCode}})
    } else {
      process.stderr.write(`Error: ${error.message}\n${error.fix ? `Fix: ${error.fix}\n` : ''}`)
    }
    process.exitCode = error.exitCode
    return this.exit(error.exitCode === ExitCode.ok ? ExitCode.error : error.exitCode)
  }
}
