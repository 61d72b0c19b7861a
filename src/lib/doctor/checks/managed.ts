// The Managed paths checks: every path the manifest lists is here and managed by chezmoi, and no template's output
// was edited here (chezmoi would overwrite the edit; a sync never captures it). One `chezmoi managed` serves both.
// Both need a chezmoi fleet can use and a valid manifest (chezmoi reads it as template data): without them they are
// skipped, pointing at the check that says what is wrong.
import {lstat} from 'node:fs/promises'
import {join} from 'node:path'

import {checkChezmoi, chezmoiBinary} from '../../chezmoi/chezmoi.ts'
import {homeShellPath} from '../../errors/shell-command.ts'
import {errorMessage} from '../../errors/index.ts'
import type {LocalFleet} from '../../fleet/local.ts'
import {findMachine} from '../../manifest/lookup.ts'
import type {Fleet} from '../../manifest/schema.ts'
import {ProcessError} from '../../process/run.ts'
import {type CheckFinding, type DoctorCheck, fail, ok, warn} from '../check.ts'
import {type DoctorContext, SkipCheck} from '../context.ts'
import {plural, sentence, withTilde} from '../../platform/text.ts'

const GROUP = 'Managed paths'

/**
 * This machine's fleet and manifest, and a chezmoi fleet can use (`chezmoi --version`, once per run: tools.chezmoi
 * asks the same), or SkipCheck naming the check that says what is wrong.
 */
async function needChezmoiAndManifest(context: DoctorContext, signal: AbortSignal): Promise<{local: LocalFleet; fleet: Fleet}> {
  const local = await context.need("this machine's fleet", context.local())
  const fleet = await context.manifest().catch(() => {
    throw new SkipCheck('Skipped: the manifest is not valid, and chezmoi reads it (see manifest.valid).')
  })
  await context
    .once('chezmoi-usable', () => checkChezmoi(chezmoiBinary(context.env), context.env, signal))
    .catch(() => {
      throw new SkipCheck('Skipped: chezmoi cannot be used here (see tools.chezmoi).')
    })
  return {local, fleet}
}

/** Every target chezmoi manages here (relative to $HOME) with its source entry: one `chezmoi managed`, stopped by `signal`. */
function managedTargets(context: DoctorContext, signal: AbortSignal): Promise<Map<string, string>> {
  return context.once('managed.targets', async () => (await context.local()).chezmoi.managedSources(undefined, {signal}))
}

/** A chezmoi command that failed, as a finding: chezmoi's own reason (its last line), paths shown with `~`. */
function chezmoiFailed(context: DoctorContext, command: string, error: unknown): CheckFinding {
  const output = error instanceof ProcessError ? error.result.stderr || error.result.stdout : errorMessage(error)
  const reason = output
    .trim()
    .split('\n')
    .map((line) => line.trim().replace(/^chezmoi: /, ''))
    .filter(Boolean)
    .at(-1)
  const why = error instanceof ProcessError && error.result.timedOut ? 'was stopped' : 'failed'
  return fail(
    sentence(withTilde(context.paths.home, `\`chezmoi ${command}\` ${why}${reason ? `: ${reason}` : ''}`)),
    `Run \`chezmoi ${command}\` to see chezmoi's whole message, and correct what it names.`,
  )
}

const pathsCheck: DoctorCheck = {
  id: 'managed.paths',
  group: GROUP,
  async run(context, signal) {
    const {local, fleet} = await needChezmoiAndManifest(context, signal)
    // Encrypted paths reach a machine once it is active: until then they are not missing.
    const active = findMachine(fleet, local.machine)?.state === 'active'
    const expected = fleet.paths.filter((p) => active || !p.encrypt).map((p) => p.path)
    if (expected.length === 0)
      return ok(fleet.paths.length === 0 ? 'The fleet manages no paths yet.' : 'Every managed path is encrypted: they come here once this machine is active.')
    let managed: Map<string, string>
    try {
      managed = await managedTargets(context, signal)
    } catch (error) {
      return chezmoiFailed(context, 'managed', error)
    }
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
        `Managed by the fleet but missing here: ${shown(missing)}${more}.`,
        `Take the fleet's version back: \`chezmoi apply --force ${shown(missing)}\`; or, to stop syncing it on every machine: \`fleet remove-path ${shown(missing)}\`.`,
      )
    }
    if (unmanaged.length > 0) {
      return warn(`In the manifest but not managed by chezmoi (no source entry): ${shown(unmanaged)}.`, 'Run `fleet sync`: it adds them to the source again.')
    }
    const all = expected.length === 1 ? 'The one managed path is' : `All ${plural(expected.length, 'managed path')} are`
    return ok(`${all} here and managed by chezmoi.`)
  },
}

const templatesCheck: DoctorCheck = {
  id: 'managed.templates',
  group: GROUP,
  async run(context, signal) {
    const {local} = await needChezmoiAndManifest(context, signal)
    let templates: string[]
    try {
      templates = [...(await managedTargets(context, signal))].filter(([, source]) => source.endsWith('.tmpl')).map(([path]) => path)
    } catch (error) {
      return chezmoiFailed(context, 'managed', error)
    }
    if (templates.length === 0) return ok('No managed file is made by a template.')
    let status: Awaited<ReturnType<typeof local.chezmoi.status>>
    try {
      status = await local.chezmoi.status(
        templates.map((path) => join(context.paths.home, path)),
        {signal},
      )
    } catch (error) {
      return chezmoiFailed(context, 'status', error)
    }
    // Changed since chezmoi last wrote it: an edit made here, which a sync never captures from a template's output.
    const edited = status.filter((entry) => entry.sinceLastWrite === 'M').map((entry) => homeShellPath(entry.path))
    if (edited.length === 0) return ok(`${plural(templates.length, 'file')} made by a template, none edited here.`)
    return warn(
      `Edited here, but made by a template (chezmoi would overwrite the edit; a sync does not capture it): ${edited.join(' ')}.`,
      `Make the change in the template instead: \`chezmoi edit ${edited[0]}\`, then \`fleet sync\`; or take the template's output back: \`chezmoi apply --force ${edited.join(' ')}\`.`,
    )
  },
}

/** The Managed paths group's checks. */
export const managedPathChecks: DoctorCheck[] = [pathsCheck, templatesCheck]
