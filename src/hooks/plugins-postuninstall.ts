// After `fleet plugins uninstall`: this machine's agents installed again, without the removed plugin's.
import type {Hook} from '@oclif/core'

import {reinstallAgents} from '../lib/agents/reinstall.ts'

const hook: Hook<'plugins:postuninstall'> = async function ({config}) {
  // stderr, beside the plugin manager's own progress: stdout may be holding --json output.
  for (const line of await reinstallAgents(config)) process.stderr.write(`${line}\n`)
}

export default hook
