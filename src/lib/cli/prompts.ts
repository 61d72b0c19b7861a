// Questions asked in a terminal, for commands that may ask (FleetCommand.interactive). The prompt library is
// loaded only when a question is asked.
import type {LocalFleet} from '../fleet/local.ts'
import {findConflict, type Side} from '../sync/resolve.ts'
import {readSyncState} from '../sync/state.ts'

/** Which version of the conflict at `given` the fleet should keep; the conflict must be on record. */
export async function askWhichSide(local: LocalFleet, given: string): Promise<Side> {
  const conflict = findConflict(local, (await readSyncState(local.paths)).conflicts, given)
  const {select} = await import('@inquirer/prompts')
  return select<Side>({
    message: `~/${conflict.path} changed here and on another machine. Which version should the fleet keep?`,
    choices: [
      {name: "This machine's (what is in the file now)", value: 'mine'},
      {name: "The fleet's (this machine's is backed up first)", value: 'theirs'},
    ],
  })
}

/** A yes/no question; no unless the person says yes. */
export async function askToGoOn(message: string): Promise<boolean> {
  const {confirm} = await import('@inquirer/prompts')
  return confirm({message, default: false})
}
