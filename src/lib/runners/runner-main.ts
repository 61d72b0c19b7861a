// `fleet agents run [--agent <id>]…` as people start it under a container's process manager (bin/run.js sends
// exactly those command lines here): a runner that lives as long as its agents, without oclif and its plugins,
// which would stay in its memory all that time. Its plan (which agents, how each starts) comes from
// `fleet agents run --plan`, run once in a process of its own: that one loads the plugins and says what is wrong
// (not enrolled, no such agent) with the fix and the exit code.
import {errorMessage} from '../errors/index.ts'
import {fleetPaths} from '../platform/paths.ts'
import {fleetProcess, onStopSignal, reportFailure} from './entry.ts'
import {type RunnerPlan, superviseInForeground} from './foreground.ts'

/** Run the agents (all of them, or those named) until told to stop; resolves with the exit code. */
export async function runAgentsRunner(ids: string[]): Promise<number> {
  try {
    const plan = await planOf(ids)
    if (typeof plan === 'number') return plan
    await superviseInForeground(fleetPaths(), plan, (line) => process.stdout.write(`${line}\n`), onStopSignal)
    return 0
  } catch (error) {
    return reportFailure(error)
  }
}

/** The plan from `fleet agents run --plan`, or the exit code it failed with (it has said why on stderr). */
async function planOf(ids: string[]): Promise<RunnerPlan | number> {
  const {code, stdout} = await fleetProcess(['agents', 'run', '--plan', ...ids.flatMap((id) => ['--agent', id])]).ended
  if (code !== 0) return code ?? 1
  try {
    return JSON.parse(stdout) as RunnerPlan
  } catch (error) {
    throw new Error(`fleet agents run --plan printed no plan: ${errorMessage(error)}`, {cause: error})
  }
}
