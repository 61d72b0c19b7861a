// fleet's public API for plugins, imported as `@dotfleet/fleet` (PLUGINS.md shows how to write one). At run time the
// name resolves to the fleet that runs the plugin (see registerHostPackage), so plugins declare it as an optional
// peer dependency and get the same classes and the same version the person runs. Each name's docstring is where it
// is defined; what is not exported here is fleet's own and may change.

// The hook contract: typed hooks for fleet's events (a wrong return type does not compile).
export type {
  AgentSpec,
  AgentSpecBase,
  AgentsHook,
  CheckStatus,
  DoctorHook,
  FleetHookOptions,
  FleetHooks,
  IntervalAgentSpec,
  PluginCheckResult,
  ResidentAgentSpec,
} from './lib/plugins/hooks.ts'
// Commands: the base that gives a plugin's commands fleet's exit codes, messages with their fix, and JSON errors.
export {FleetCommand, type CommandOutput} from './lib/cli/base-command.ts'
// oclif's argument and flag builders, so that a plugin needs no @oclif/core of its own at run time.
export {
  /** oclif's argument builders, from the fleet that runs the plugin: `static override args = {task: Args.string({required: true})}`. */
  Args,
  /** oclif's flag builders, from the fleet that runs the plugin: `static override flags = {fleet: Flags.boolean({description: '…'})}`. */
  Flags,
} from '@oclif/core'
// Errors a command throws for fleet's report (`Error:` and `Fix:`, or the JSON error) and its exit code.
export {ExitCode, type ExitCodeValue, FleetError, UsageError, ForgeUnreachableError, ConflictError} from './lib/errors/index.ts'
// This machine's fleet, read-only, and where things live.
export {readFleet, fleetDataDir, pluginDataDir, pluginShortName, type FleetView} from './lib/plugins/fleet-view.ts'
export type {Fleet, Machine, ManagedPath} from './lib/manifest/schema.ts'
export {parseSshAddress, sshDestination, type SshAddress} from './lib/fleet/ssh-address.ts'
export {fleetPaths, type FleetPaths} from './lib/platform/paths.ts'
// Running programs the way fleet does: argument arrays, no shell, a clear error when one is missing or fails.
export {run, ProcessError, type RunOptions, type RunResult} from './lib/process/run.ts'
// A lock a plugin's own files can share between its processes (mkdir-based; a dead holder's lock is taken over).
export {waitForLock, type Lock} from './lib/lock/lock.ts'
// Output the way fleet's own commands write it: commands in a fix quoted for a POSIX shell, paths under the home
// directory with `~`, plain tables.
export {shellCommand, shellWord} from './lib/errors/shell-command.ts'
export {withTilde} from './lib/platform/text.ts'
export {renderTable} from './lib/cli/table.ts'
