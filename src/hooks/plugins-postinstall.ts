// After `fleet plugins install`: this machine's agents installed again, the new plugin's among them.
import type {Hook} from '@oclif/core'

import {reinstallAgents} from '../lib/agents/reinstall.ts'

const hook: Hook<'plugins:postinstall'> = async function ({config}) {
  // stderr, beside the plugin manager's own progress: stdout may be holding --json output.
  for (const line of await reinstallAgents(config)) process.stderr.write(`${line}\n`)
}

export default hook
