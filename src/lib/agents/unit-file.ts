// A serializer for systemd unit files. No maintained npm package quotes values the way systemd reads them
// (systemd.syntax(7), systemd.service(7) "Command lines"), so this one does, and the tests check its output with
// `systemd-analyze verify`.

export type UnitValue = string | number | boolean | string[]
export type UnitSection = Array<[key: string, value: UnitValue]>
export type UnitFile = Array<[section: string, entries: UnitSection]>

/** A value in double quotes, with C-style escapes and `%` (specifiers) escaped. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/%/g, '%%')}"`
}

/** One argument of a command line (ExecStart=): quoted, and `$` doubled (systemd expands variables in arguments). */
export function quoteArgument(arg: string): string {
  return quoted(arg).replace(/\$/g, '$$$$')
}

/**
 * A command line: every argument quoted, so spaces and shell characters in paths are taken literally.
 * systemd expands no variables in the executable, and refuses one whose path holds a quote or a backslash: such
 * an executable is started through /usr/bin/env, where it is an ordinary argument.
 */
export function commandLine(argv: string[]): string {
  const [executable, ...args] = argv
  if (/["'\\]/.test(executable)) return commandLine(['/usr/bin/env', ...argv])
  return [quoted(executable), ...args.map(quoteArgument)].join(' ')
}

/** An Environment= assignment, quoted as one word. */
export function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid environment variable name: ${name}`)
  // systemd does not expand variables in Environment=, so `$` stays as it is.
  return quoted(`${name}=${value}`)
}

/** A plain value (Description=, a path): specifiers escaped; one line. */
export function plainValue(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error('a unit file value cannot span lines')
  return value.replace(/%/g, '%%').replace(/\\/g, '\\\\')
}

export function serializeUnit(unit: UnitFile, header?: string): string {
  const lines: string[] = header ? header.split('\n').map((l) => `# ${l}`) : []
  for (const [section, entries] of unit) {
    if (lines.length > 0) lines.push('')
    lines.push(`[${section}]`)
    for (const [key, value] of entries) {
      for (const one of Array.isArray(value) ? value : [value]) {
        lines.push(`${key}=${typeof one === 'boolean' ? (one ? 'yes' : 'no') : String(one)}`)
      }
    }
  }
  return `${lines.join('\n')}\n`
}
