// The public API for fleet plugins: the types they implement and the helpers they may call.
export {ExitCode, type ExitCodeValue, FleetError, UsageError, ForgeUnreachableError, ConflictError} from './lib/errors/index.ts'
export type {AgentSpec} from './lib/agents/spec.ts'
export type {Fleet, Machine, ManagedPath} from './lib/manifest/schema.ts'
export {fleetPaths, type FleetPaths} from './lib/platform/paths.ts'
export {run, type RunOptions, type RunResult} from './lib/process/run.ts'
// Plugins' checks: a fleet:doctor hook (DoctorHook) gets FleetHookOptions and returns PluginCheckResult values.
export type {CheckResult, CheckStatus} from './lib/doctor/check.ts'
export type {DoctorHook, PluginCheckResult} from './lib/doctor/plugin-checks.ts'
export type {FleetHookOptions} from './lib/plugins/fan-out.ts'
