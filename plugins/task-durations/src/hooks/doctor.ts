// The plugin's checks for `fleet doctor` (the fleet:doctor hook): rsync present, each peer reachable over SSH with its
// pinned host key, and the age of the last pull. Only this file is loaded by doctor; the checks load what they need.
import type {DoctorHook} from '@dotfleet/fleet'

import {durationsPaths} from '../lib/paths.ts'
import {pullChecks} from '../lib/pull-checks.ts'

const hook: DoctorHook = async function ({signal, timeoutMs}) {
  return pullChecks({paths: durationsPaths(), env: process.env, signal, timeoutMs})
}

export default hook
