// After a plugin was installed or removed: this machine's agents installed again, so that the plugin's agents appear or
// disappear with it. A machine where fleet installed no agents is left as it is.
import type {Config, Interfaces} from '@oclif/core'

import {errorMessage, FleetError} from '../errors/index.ts'
import {type FleetPaths, fleetPaths} from '../platform/paths.ts'
import {collectAgents} from './collect.ts'
import {readInstalledAgents} from './install.ts'
import {installMachineAgents} from './machine-agents.ts'

/**
 * Install this machine's agents again (the core's and every plugin's, as `config` has its plugins now) into the service
 * manager that holds them, when fleet installed agents here; the lines say what happened. None where no agents are
 * installed. Never throws: a failure is a line that says so, with the fix.
 */
export async function reinstallAgents(config: Interfaces.Config, paths: FleetPaths = fleetPaths()): Promise<string[]> {
  try {
    const record = await readInstalledAgents(paths)
    if (!record) return []
    const {agents, failures} = await collectAgents(config as Config) // a hook's config is the running Config
    const installation = await installMachineAgents(paths, async () => agents, {manager: record.manager})
    return [`Agents: ${installation.message}.`, ...failures.map((failure) => `Warning: plugin ${failure.source} could not contribute agents: ${failure.error}`)]
  } catch (error) {
    const fix = error instanceof FleetError && error.fix ? error.fix : 'Run `fleet agents install`.'
    return [`Warning: this machine's agents could not be installed again: ${errorMessage(error)}`, `Fix: ${fix}`]
  }
}
