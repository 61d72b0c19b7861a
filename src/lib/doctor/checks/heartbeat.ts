// This machine's heartbeat at the forge: the fleet-wide view (`fleet status --fleet`) shows a machine only through it.
import {age} from '../../platform/text.ts'
import {type DoctorCheck, ok, warn} from '../check.ts'

/** `3 min ago`, from a time the sync state kept. */
function ago(at: string): string {
  return `${age(Date.now() - Date.parse(at))} ago`
}

const HEARTBEAT_VIEW = '`fleet status --fleet` on the other machines will not show this one'

export const heartbeatChecks: DoctorCheck[] = [
  {
    id: 'sync.heartbeat',
    group: 'Sync',
    async run(context) {
      const record = (await context.need('the sync state', context.syncState())).heartbeat
      if (record?.refused) {
        return warn(
          `The forge refused this machine's heartbeat ${ago(record.refused.at)}: ${record.refused.reason}. Syncing works; ${HEARTBEAT_VIEW} (or shows it as it was).`,
          'Allow pushes to refs/fleet/heartbeat/* on the forge (a hook or a protected-ref rule refuses them), then run `fleet sync`.',
        )
      }
      if (!record?.publishedAt) return warn(`This machine has not published a heartbeat yet: ${HEARTBEAT_VIEW}.`, 'Run `fleet sync`.')
      return ok(`Heartbeat published ${ago(record.publishedAt)}.`)
    },
  },
]
