// Every core check, in the order doctor shows their groups. Each file holds the checks of one concern.
import type {DoctorCheck} from '../check.ts'
import {agentChecks} from './agents.ts'
import {heartbeatChecks} from './heartbeat.ts'
import {keyChecks} from './keys.ts'
import {machineChecks} from './machine.ts'
import {managedPathChecks} from './managed.ts'
import {pluginChecks} from './plugins.ts'

/** The core's checks: tools, source repo, forge, manifest, roster, keys, managed paths, agents, sync, this machine. */
export const CORE_CHECKS: DoctorCheck[] = [...machineChecks, ...keyChecks, ...managedPathChecks, ...agentChecks, ...heartbeatChecks, ...pluginChecks]

/** The groups the core's checks are shown under, in this order (plugins' groups follow). */
export const GROUP_ORDER = ['Tools', 'Source repo', 'Forge', 'Manifest', 'Roster', 'Keys', 'Managed paths', 'Agents', 'Sync', 'This machine', 'Plugins']
