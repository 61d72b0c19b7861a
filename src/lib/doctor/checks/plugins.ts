// The Plugins check: every plugin the fleet enables (the manifest's `plugins`) is installed on this machine too.
import {pluginShortName} from '../../plugins/fleet-view.ts'
import {plural, someOf} from '../../platform/text.ts'
import {type DoctorCheck, ok, warn} from '../check.ts'

export const pluginChecks: DoctorCheck[] = [
  {
    id: 'plugins.installed',
    group: 'Plugins',
    async run(context) {
      const enabled = (await context.need('the manifest', context.manifest())).plugins
      if (enabled.length === 0) return ok('The fleet enables no plugins.')
      const missing = enabled.filter((name) => !context.installedPlugins.includes(name))
      if (missing.length === 0) return ok(`Every plugin the fleet enables is installed here (${enabled.join(', ')}).`)
      return warn(
        `The fleet enables ${plural(missing.length, 'plugin')} this machine lacks: ${someOf(missing)}.`,
        missing.map((name) => `fleet plugins install ${installName(name)}`).join('; '),
      )
    },
  },
]

/**
 * What to give `fleet plugins install` for a package: the short name of one of fleet's own (@dotfleet/plugin-…), a
 * package of another scope as it is, and an unscoped package with --allow-unscoped (its short name means fleet's).
 */
function installName(name: string): string {
  if (name.startsWith('@dotfleet/plugin-')) return pluginShortName(name)
  return name.startsWith('@') ? name : `${name} --allow-unscoped`
}
