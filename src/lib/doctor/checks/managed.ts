// The Managed paths checks: every path the manifest lists is here and managed by chezmoi, and no template's output
// was edited here (chezmoi would overwrite the edit; a sync never captures it). One `chezmoi managed` serves both.
import {lstat} from 'node:fs/promises'
import {join} from 'node:path'

import {homeShellPath} from '../../errors/shell-command.ts'
import {findMachine} from '../../manifest/lookup.ts'
import {type DoctorCheck, ok, warn} from '../check.ts'
import type {DoctorContext} from '../context.ts'

const GROUP = 'Managed paths'

/** Every target chezmoi manages here (relative to $HOME) with its source entry: one `chezmoi managed`, stopped by `signal`. */
function managedTargets(context: DoctorContext, signal: AbortSignal): Promise<Map<string, string>> {
  return context.once('managed.targets', async () => (await context.local()).chezmoi.managedSources(undefined, {signal}))
}

const pathsCheck: DoctorCheck = {
  id: 'managed.paths',
  group: GROUP,
  async run(context, signal) {
    const local = await context.need("this machine's fleet", context.local())
    const fleet = await context.need('the manifest', context.manifest())
    // Encrypted paths reach a machine once it is active: until then they are not missing.
    const active = findMachine(fleet, local.machine)?.state === 'active'
    const expected = fleet.paths.filter((p) => active || !p.encrypt).map((p) => p.path)
    if (expected.length === 0)
      return ok(fleet.paths.length === 0 ? 'the fleet manages no paths yet' : 'every managed path here is encrypted, for when this machine is active')
    const managed = await managedTargets(context, signal)
    const present = await Promise.all(
      expected.map((path) =>
        lstat(join(context.paths.home, path)).then(
          () => true,
          () => false,
        ),
      ),
    )
    const missing = expected.filter((_, i) => !present[i])
    const unmanaged = expected.filter((path, i) => present[i] && !managed.has(path))
    const shown = (paths: string[]) => paths.map((path) => homeShellPath(path)).join(' ')
    if (missing.length > 0) {
      const more = unmanaged.length > 0 ? `; and not managed by chezmoi: ${shown(unmanaged)} (\`fleet sync\` adds them again)` : ''
      return warn(
        `managed by the fleet but missing here: ${shown(missing)}${more}`,
        `Take the fleet's version back: \`chezmoi apply --force ${shown(missing)}\`; or, to stop syncing it on every machine: \`fleet remove-path ${shown(missing)}\``,
      )
    }
    if (unmanaged.length > 0) {
      return warn(`in the manifest but not managed by chezmoi (no source entry): ${shown(unmanaged)}`, 'Run `fleet sync`: it adds them to the source again')
    }
    return ok(`all ${expected.length} managed path(s) are here and managed by chezmoi`)
  },
}

const templatesCheck: DoctorCheck = {
  id: 'managed.templates',
  group: GROUP,
  async run(context, signal) {
    const local = await context.need("this machine's fleet", context.local())
    const templates = [...(await managedTargets(context, signal))].filter(([, source]) => source.endsWith('.tmpl')).map(([path]) => path)
    if (templates.length === 0) return ok('no managed file is made by a template')
    const status = await local.chezmoi.status(
      templates.map((path) => join(context.paths.home, path)),
      {signal},
    )
    // Changed since chezmoi last wrote it: an edit made here, which a sync never captures from a template's output.
    const edited = status.filter((entry) => entry.sinceLastWrite === 'M').map((entry) => homeShellPath(entry.path))
    if (edited.length === 0) return ok(`${templates.length} file(s) made by a template, none edited here`)
    return warn(
      `edited here, but made by a template (chezmoi would overwrite the edit; a sync does not capture it): ${edited.join(' ')}`,
      `Make the change in the template instead: \`chezmoi edit ${edited[0]}\`, then \`fleet sync\`; or take the template's output back: \`chezmoi apply --force ${edited.join(' ')}\``,
    )
  },
}

/** The Managed paths group's checks. */
export const managedPathChecks: DoctorCheck[] = [pathsCheck, templatesCheck]
