// The contract between fleet and its plugins: the hook events fleet defines, what each hook gets and what it must
// return. Typed through oclif's `Hook<Event, Hooks>`, so a hook that returns the wrong shape does not compile.
import type {Hook, Hooks} from '@oclif/core/interfaces'

/**
 * What fleet passes to a plugin's hook for a fleet event (beside oclif's own `config` and `context`).
 * - `signal`: aborted when the hook's time is up (its reason a `TimeoutError` DOMException), when the command stops,
 *   and once the hook's answer has been taken: pass it to every process the hook starts (execa's `cancelSignal`,
 *   `child_process.spawn`'s `signal`, `fetch`'s `signal`), so that nothing it started outlives it.
 * - `timeoutMs`: how long the hook has, in milliseconds, from when it is called; past it, fleet stops waiting and
 *   reports the plugin as failed.
 */
// A type, not an interface: oclif's Hooks map needs options that are assignable to Record<string, unknown>.
export type FleetHookOptions = {
  signal: AbortSignal
  timeoutMs: number
}

/**
 * A background agent, as the core and plugins (through the `fleet:agents` hook event) describe it: rendered into a
 * launchd plist or systemd units by `fleet agents install`, or run by `fleet agents run`. Exactly one of `resident`
 * or `intervalSeconds` says when it runs: a spec with both, or with neither, does not compile.
 */
export type AgentSpec = ResidentAgentSpec | IntervalAgentSpec

/** What every AgentSpec has, whichever way it runs. */
export interface AgentSpecBase {
  /**
   * Unique among this machine's agents, lowercase letters, digits and dashes. A plugin's starts with its short name
   * and a dash (or is its short name): 'task-durations-pull-fleet'.
   */
  id: string
  /**
   * launchd label and systemd unit stem, letters, digits, dots and dashes. A plugin's is `dev.dotfleet.<id>`
   * (`dev.dotfleet.task-durations-pull-fleet`), so that its files never take the name of another program's.
   */
  label: string
  /** One line for a person, shown by `fleet agents list` and written into the definition. */
  description: string
  /** fleet's arguments (never a secret: they are visible to every process), e.g. ['task-durations', 'pull-fleet']. */
  argv: string[]
}

/** An agent that is kept alive (launchd KeepAlive, systemd Restart=always). */
export interface ResidentAgentSpec extends AgentSpecBase {
  resident: true
  intervalSeconds?: never
}

/** An agent started every `intervalSeconds` seconds (launchd StartInterval, a systemd .timer). */
export interface IntervalAgentSpec extends AgentSpecBase {
  /** A whole number, at least 10. */
  intervalSeconds: number
  resident?: false
}

/**
 * How a check came out: `ok`; `warn` (worth knowing, does not fail doctor); `fail` (something is wrong: doctor exits
 * 1); `skip` (it could not be looked at, because something it needs failed first or does not apply here).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

/**
 * One check as a plugin's fleet:doctor hook returns it. fleet shows it under the plugin's short name and adds how
 * long the hook took.
 * - `id`: lower-case words joined by `.` or `-`, starting with the plugin's own short name (`task-durations.rsync`),
 *   so that `fleet doctor --check <id>` finds it.
 * - `status`: see CheckStatus.
 * - `message`: one line for a person, a sentence, paths shown with `~` for the home directory.
 * - `fix`: where not ok, what to do (a command to run).
 */
export interface PluginCheckResult {
  id: string
  status: CheckStatus
  message: string
  fix?: string
}

/**
 * fleet's hook events, as oclif's `Hooks` map: the options each hook gets and what it returns. Use it as the second
 * type parameter of oclif's `Hook`: `const hook: Hook<'fleet:agents', FleetHooks> = async function () {…}`, or
 * through AgentsHook and DoctorHook. A hook may return a list, one value, or nothing.
 * - `fleet:agents`: this machine's background agents (AgentSpec); asked by `fleet agents install|list|run`,
 *   `fleet status` and `fleet doctor`, and after `fleet plugins install|uninstall`.
 * - `fleet:doctor`: checks (PluginCheckResult), asked once per `fleet doctor` run, beside the core's checks.
 */
export interface FleetHooks extends Hooks {
  'fleet:agents': {options: FleetHookOptions; return: AgentSpec[] | AgentSpec | undefined}
  'fleet:doctor': {options: FleetHookOptions; return: PluginCheckResult[] | PluginCheckResult | undefined}
}

/** The events of FleetHooks. */
export type FleetEvent = 'fleet:agents' | 'fleet:doctor'

/**
 * A plugin's fleet:agents hook: the default export of the file its package.json names under
 * `oclif.hooks['fleet:agents']`. It returns the plugin's agents (AgentSpec); one that throws, returns anything else
 * or takes longer than `timeoutMs` is reported as that plugin's failure, and the other agents are installed anyway.
 */
export type AgentsHook = Hook<'fleet:agents', FleetHooks>

/**
 * A plugin's fleet:doctor hook: the default export of the file its package.json names under
 * `oclif.hooks['fleet:doctor']`. Called once per `fleet doctor` run with `signal` and `timeoutMs`; it returns its
 * checks. If it throws, returns anything else, or has not returned within `timeoutMs`, the plugin is shown with one
 * failed check, `<plugin>.hook`, saying which; its signal is then aborted, and whatever it started must stop. A hook
 * that blocks the event loop (a synchronous loop) cannot be stopped: do slow work in a child process or asynchronously.
 */
export type DoctorHook = Hook<'fleet:doctor', FleetHooks>
