import {FleetCommand} from '../lib/cli/base-command.ts'
import {renderTable} from '../lib/cli/table.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {listPaths, type PathReport} from '../lib/managed/paths.ts'

export default class Paths extends FleetCommand {
  static override summary = 'List the managed paths and their state on this machine.'
  static override description =
    'States: in sync; in conflict (see fleet resolve); held back (a file in it looks like a secret: see fleet status); edited here (captured at the next sync); changed upstream (another machine changed it; applied at the next sync); missing here; waiting for approval (encrypted, and this machine is pending).'
  static override examples = [
    {description: 'The managed paths', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> --json'},
  ]
  static override enableJsonFlag = true

  async run(): Promise<{paths: PathReport[]; forgeChecked: boolean}> {
    await this.parse(Paths)
    const report = await listPaths(await openLocalFleet())
    if (this.jsonEnabled()) return report
    if (!report.forgeChecked) this.warn('The forge did not answer: upstream changes are as of the last fetch.')
    const rows = report.paths.map((p) => [`~/${p.path}`, p.state, [p.encrypted ? 'encrypted' : '', p.template ? 'template' : ''].filter(Boolean).join(', ')])
    for (const line of renderTable(['PATH', 'STATE', 'FLAGS'], rows)) this.log(line)
    return report
  }
}
