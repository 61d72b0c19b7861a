// This machine's view of its fleet: where its files are, its name, and the adapters bound to them.
import {existsSync} from 'node:fs'

import {Chezmoi, chezmoiBinary} from '../chezmoi/chezmoi.ts'
import {configuredMachine} from '../chezmoi/config.ts'
import {FleetError} from '../errors/index.ts'
import {GitRepo} from '../git/git.ts'
import {manifestPath} from '../manifest/store.ts'
import {type FleetPaths, fleetPaths} from '../platform/paths.ts'

export interface LocalFleet {
  env: NodeJS.ProcessEnv
  paths: FleetPaths
  machine: string
  repo: GitRepo
  chezmoi: Chezmoi
}

export function chezmoiFor(paths: FleetPaths, env: NodeJS.ProcessEnv = process.env): Chezmoi {
  return new Chezmoi({
    binary: chezmoiBinary(env),
    configFile: paths.chezmoiConfigFile,
    stateFile: paths.chezmoiStateFile,
    captureConfigFile: paths.captureConfigFile,
    sourceDir: paths.sourceDir,
    home: paths.home,
  })
}

const NOT_ENROLLED_FIX = 'Run `fleet enroll` to start a fleet or join one.'

/** Open this machine's fleet, or fail with NOT_ENROLLED and the fix. */
export async function openLocalFleet(env: NodeJS.ProcessEnv = process.env): Promise<LocalFleet> {
  const paths = fleetPaths(env)
  const machine = await configuredMachine(paths)
  if (machine === undefined || !existsSync(manifestPath(paths.sourceDir))) {
    throw new FleetError('This machine is not enrolled in a fleet.', {code: 'NOT_ENROLLED', fix: NOT_ENROLLED_FIX})
  }
  return {env, paths, machine, repo: new GitRepo(paths.sourceDir), chezmoi: chezmoiFor(paths, env)}
}
