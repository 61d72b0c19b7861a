// Small pieces of wording shared by what fleet prints: counts with their plural, short lists, paths with `~`, and
// text from elsewhere (another machine, git) made safe and short for a terminal.

/** `1 machine`, `2 machines`: a count and its noun, in the plural unless it is one. */
export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}

/** A list for a message: the first few, and how many more (`a, b, c and 4 more`). */
export function someOf(names: string[], shown = 3): string {
  return names.length <= shown ? names.join(', ') : `${names.slice(0, shown).join(', ')} and ${names.length - shown} more`
}

/**
 * `text` with the home directory `home` (fleetPaths().home) shown as `~`, wherever it appears: for paths in messages.
 * A path quoted for the shell keeps `~/` outside its quotes, so the command still works when pasted.
 */
export function withTilde(home: string, text: string): string {
  if (!home || home === '/') return text
  return text
    .replaceAll(`'${home}/`, `~/'`)
    .replaceAll(`${home}/`, '~/')
    .replaceAll(new RegExp(`${escapeRegExp(home)}(?![\\w.-])`, 'g'), '~')
}

function escapeRegExp(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// C0 and C1 control characters, DEL included: escape sequences (`ESC [2J`) start with one.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

/**
 * Text that came from outside (another machine's heartbeat, git's words) as one short printable line: control
 * characters removed (nothing can drive the terminal), only the first line, at most `max` characters (then `…`).
 */
export function safeLine(text: string, max = 160): string {
  const line = text.split(/\r?\n/, 1)[0].replaceAll('\t', ' ').replaceAll(CONTROL, '').trim()
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`
}

/**
 * `text` as a sentence: its full stop added when it has none (whoever wrote it: a check of the core's, a plugin's),
 * except after a command in backticks, which a person copies whole.
 */
export function sentence(text: string): string {
  return /[.!?`]$/.test(text) ? text : `${text}.`
}

/** A sentence meant to be joined with others (`a; b`): without its final full stop. */
export function clause(text: string): string {
  return text.replace(/\.+$/, '')
}

/** How long ago, in a word a person reads at a glance: `40 s`, `12 min`, `5 h`, `3 d`. */
export function age(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000)
  if (seconds < 120) return `${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 120) return `${minutes} min`
  const hours = Math.round(minutes / 60)
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`
}
