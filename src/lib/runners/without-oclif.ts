// The commands bin/run.js runs without oclif: the agents that live for months (the watcher, the foreground runner),
// whose memory would hold oclif, the plugins and the compile cache all that time, and the watcher's steps, which
// run once per sync and start faster without them. Each is taken only as its callers start it; any other command
// line (--help, a flag more) goes to oclif and the command of the same name.
import type {StepRequest} from './watcher-step.ts'

/** How to run a command without oclif: its runner (resolving with the exit code), and whether to use the compile cache. */
export interface WithoutOclif {
  run(): Promise<number>
  /** Worth it for a process that starts often (a step), not for one that lives for months. */
  compileCache: boolean
}

/** The command line's command, when it is one of those above as its callers start it; else undefined (oclif's). */
export function withoutOclif(argv: string[]): WithoutOclif | undefined {
  const [topic, command, ...rest] = argv
  if (topic !== 'agents') return undefined
  if (command === 'watch' && rest.length === 0) {
    return {compileCache: false, run: async () => (await import('./watcher-main.ts')).runWatcherAgent()}
  }
  const ids = command === 'run' ? agentIdsOf(rest) : undefined
  if (ids) return {compileCache: false, run: async () => (await import('./runner-main.ts')).runAgentsRunner(ids)}
  const step = command === 'watcher-step' ? stepOf(rest) : undefined
  if (step) return {compileCache: true, run: async () => (await import('./step-main.ts')).runWatcherStep(step)}
  return undefined
}

/** The agent ids of `fleet agents run`'s arguments when they are only `--agent <id>` and `--agent=<id>`. */
export function agentIdsOf(args: string[]): string[] | undefined {
  const ids: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--agent=')) ids.push(args[i].slice('--agent='.length))
    else if (args[i] === '--agent' && i + 1 < args.length && !args[i + 1].startsWith('-')) ids.push(args[++i])
    else return undefined
  }
  return ids
}

/** A step as the watcher asks for it (step-process.ts): `--plan --json`, or `--reason <reason> --json`. */
function stepOf(args: string[]): StepRequest | undefined {
  if (args.length === 2 && args[0] === '--plan' && args[1] === '--json') return {plan: true}
  if (args.length === 3 && args[0] === '--reason' && args[2] === '--json') return {reason: args[1]}
  return undefined
}
