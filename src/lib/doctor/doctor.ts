// `fleet doctor`: run the checks (the core's and the plugins'), all at once, each within its own time limit, and
// with `--fix` repair what is safe to repair and look again.
import {errorMessage, FleetError} from '../errors/index.ts'
import {CHECK_TIMEOUT_MS, type CheckResult, type CheckStatus, type DoctorCheck} from './check.ts'
import {type DoctorContext, SkipCheck} from './context.ts'

/** How many checks came out each way. */
export type DoctorSummary = Record<CheckStatus, number>

/** What one doctor run found, as `fleet doctor --json` prints it. */
export interface DoctorReport {
  machine?: string
  /** When it ran (ISO 8601). */
  at: string
  checks: CheckResult[]
  summary: DoctorSummary
  /**
   * With `--fix`: what each repair did (`changed`), why it could not (`error`, with its fix), or why it was not tried
   * (`notTried`: it needs the forge, which did not answer). Empty when nothing found was --fix's to repair.
   */
  repairs?: Repair[]
  /** Wall time of the whole run, in milliseconds. */
  durationMs: number
}

/** One repair of `fleet doctor --fix`, in the order they ran: this machine's own first, then those that need the forge. */
export interface Repair {
  id: string
  changed?: string
  error?: string
  fix?: string
  notTried?: string
}

/** Why the repairs that need the forge are not tried when forge.reachable failed. */
export const FORGE_SILENT = 'the forge did not answer (see forge.reachable)'

/**
 * Checks contributed by plugins: started beside the core's, stopped by `signal`, each a result of its own. With
 * `only`, just the check with that id (or, when none has it, what says why a plugin's checks could not run). `seen`:
 * the ids of every check the plugins reported, for the message that names the checks there are.
 */
export type PluginChecks = (signal: AbortSignal, only?: string) => Promise<{results: CheckResult[]; seen: string[]}>

export interface DoctorOptions {
  checks: DoctorCheck[]
  /** Run only the check with this id (a plugin's id too). */
  only?: string
  plugins?: PluginChecks
  /** One check after another instead of all at once (the benchmark's baseline). */
  serial?: boolean
  /** Apply the safe repairs of the checks that are not ok, then look again. */
  fix?: boolean
}

/** Run the checks and, with `fix`, the repairs; never throws for a check's failure (it is in the report). */
export async function runDoctor(context: DoctorContext, options: DoctorOptions): Promise<DoctorReport> {
  const started = Date.now()
  const checks = selectChecks(options.checks, options.only)
  const plugins = options.only && checks.length > 0 ? undefined : options.plugins
  const first = await runAll(context, checks, plugins, options)
  let results = first.results
  if (options.only && results.length === 0) throw unknownCheck(options.only, options.checks, first.seen)
  let repairs: DoctorReport['repairs']
  if (options.fix) {
    repairs = await repairAll(context, checks, results)
    if (repairs.some((repair) => repair.notTried === undefined)) {
      context.forget()
      results = (await runAll(context, checks, plugins, options)).results
    }
  }
  const machine = await context.local().then(
    (local) => local.machine,
    () => undefined,
  )
  return {machine, at: new Date(started).toISOString(), checks: results, summary: summarize(results), repairs, durationMs: Date.now() - started}
}

function selectChecks(checks: DoctorCheck[], only: string | undefined): DoctorCheck[] {
  return only === undefined ? checks : checks.filter((check) => check.id === only)
}

/** No check has the id `id`: a usage error naming the checks there are, the core's and those the plugins reported. */
function unknownCheck(id: string, checks: DoctorCheck[], pluginIds: string[]): FleetError {
  const plugins = pluginIds.length > 0 ? `; the plugins': ${pluginIds.join(', ')}` : ''
  return new FleetError(`There is no check named "${id}".`, {
    code: 'UNKNOWN_CHECK',
    exitCode: 2,
    fix: `Run \`fleet doctor\` to see every check's id (the core's: ${checks.map((c) => c.id).join(', ')}${plugins}).`,
  })
}

async function runAll(
  context: DoctorContext,
  checks: DoctorCheck[],
  plugins: PluginChecks | undefined,
  options: DoctorOptions,
): Promise<{results: CheckResult[]; seen: string[]}> {
  const pluginResults = plugins ? runPlugins(plugins, options.only) : Promise.resolve({results: [], seen: []})
  let core: CheckResult[]
  if (options.serial) {
    core = []
    for (const check of checks) core.push(await runCheck(context, check))
  } else {
    core = await Promise.all(checks.map((check) => runCheck(context, check)))
  }
  const fromPlugins = await pluginResults
  return {results: [...core, ...fromPlugins.results], seen: fromPlugins.seen}
}

async function runPlugins(plugins: PluginChecks, only: string | undefined): ReturnType<PluginChecks> {
  const controller = new AbortController()
  try {
    return await plugins(controller.signal, only)
  } finally {
    controller.abort()
  }
}

/** One check within its time limit: what it found, or `fail` when it threw or ran out of time (its work stopped). */
export async function runCheck(context: DoctorContext, check: DoctorCheck): Promise<CheckResult> {
  const started = Date.now()
  const timeoutMs = check.timeoutMs ?? CHECK_TIMEOUT_MS
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const base = {id: check.id, group: check.group}
  try {
    const found = await Promise.race([check.run(context, controller.signal), timedOut])
    if (found === 'timeout') {
      return {
        ...base,
        status: 'fail',
        message: `The check did not finish within ${formatSeconds(timeoutMs)} and was stopped.`,
        durationMs: Date.now() - started,
      }
    }
    return {...base, ...found, durationMs: Date.now() - started}
  } catch (error) {
    if (error instanceof SkipCheck) return {...base, status: 'skip', message: error.message, durationMs: Date.now() - started}
    const fix = error instanceof FleetError ? error.fix : undefined
    return {...base, status: 'fail', message: `The check could not run: ${errorMessage(error).split('\n')[0]}`, fix, durationMs: Date.now() - started}
  } finally {
    clearTimeout(timer)
    controller.abort() // whatever the check started and left running stops now
  }
}

async function repairAll(context: DoctorContext, checks: DoctorCheck[], results: CheckResult[]): Promise<Repair[]> {
  const due = results
    .filter((result) => result.fixable && (result.status === 'warn' || result.status === 'fail'))
    .map((result) => checks.find((check) => check.id === result.id))
    .filter((check): check is DoctorCheck => check?.repair !== undefined)
  // This machine's own repairs first: a sync that meets a key still exposed, or a stale lock, fails where it need not.
  const ordered = [...due.filter((check) => !check.repairNeedsForge), ...due.filter((check) => check.repairNeedsForge)]
  const forgeSilent = results.some((result) => result.id === 'forge.reachable' && result.status === 'fail')
  const repairs: Repair[] = []
  // One after another: repairs change the same machine (the lock, the source repo, the agents).
  for (const check of ordered) {
    if (check.repairNeedsForge && forgeSilent) {
      repairs.push({id: check.id, notTried: FORGE_SILENT})
      continue
    }
    const controller = new AbortController()
    try {
      repairs.push({id: check.id, changed: await check.repair!(context, controller.signal)})
    } catch (error) {
      repairs.push({id: check.id, error: errorMessage(error).split('\n')[0], fix: error instanceof FleetError ? error.fix : undefined})
    } finally {
      controller.abort()
    }
  }
  return repairs
}

export function summarize(results: CheckResult[]): DoctorSummary {
  const summary: DoctorSummary = {ok: 0, warn: 0, fail: 0, skip: 0}
  for (const result of results) summary[result.status]++
  return summary
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`
}
