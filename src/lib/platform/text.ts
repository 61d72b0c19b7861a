// Small pieces of wording shared by what fleet prints: counts with their plural, short lists, paths with `~`, and
// text from elsewhere (another machine, git) made safe and short for a terminal.

/**
 * A count as a person reads it, with thousands separators: `5,052`. Written out here: the first toLocaleString of a
 * process loads ICU's locale data, tens of milliseconds on every command that says a count.
 */
export function count(n: number): string {
  const digits = String(n)
  return Number.isInteger(n) && Math.abs(n) >= 1000 ? digits.replace(/\B(?=(\d{3})+$)/g, ',') : digits
}

/** `1 machine`, `5,052 files`: a count and its noun, in the plural unless it is one. */
export function plural(n: number, what: string): string {
  return `${count(n)} ${what}${n === 1 ? '' : 's'}`
}

/** A list for a message: the first few, and how many more (`a, b, c and 4 more`); `separator` between them. */
export function someOf(names: string[], shown = 3, separator = ', '): string {
  return names.length <= shown ? names.join(separator) : `${names.slice(0, shown).join(separator)} and ${count(names.length - shown)} more`
}

/** How many paths a line names at most, and how many lines of details a list shows, before it says how many more. */
export const SHOWN = 10

/** How a path relative to $HOME is shown: `~/.zshrc` (an absolute one as it is). */
export function inHome(path: string): string {
  return path.startsWith('/') ? path : `~/${path}`
}

/** A path shown as it is given: one in the source repo (`encrypted_dot_netrc.age`), say. */
export function asGiven(path: string): string {
  return path
}

export interface PathListOptions {
  /**
   * The managed paths, relative to $HOME: a path inside one counts towards it (`5,052 under ~/.big`). A path inside
   * none counts towards its top folder, named as deep as all its paths there go.
   */
  roots?: readonly string[]
  /** How a path (or a folder of them) is shown: inHome unless told (a path in the source repo is shown as it is). */
  show?: (path: string) => string
  /** $HOME (fleetPaths().home): an absolute path inside it is taken as relative to it, and so shown with `~`. */
  home?: string
  /** How many paths, or folders of them, are named at most (SHOWN). */
  max?: number
}

/** Paths that share a folder: the folder (relative, as the paths are) and how many there are. */
interface PathGroup {
  folder: string
  paths: string[]
}

/**
 * Paths for a line a person reads: each named when there are at most `max` of them (`~/.zshrc, ~/.gitconfig`);
 * otherwise a folder with a count for the paths that share it, the largest first, then single paths, and how many
 * were not named (`5,052 under ~/.big, 12 under ~/.config/app, ~/.zshrc and 3 more`). The full list belongs in
 * `--json` and the sync log.
 */
export function pathList(paths: readonly string[], options: PathListOptions = {}): string {
  const {named, more} = summarise(paths, options)
  return `${named.join(', ')}${more > 0 ? ` and ${count(more)} more` : ''}`
}

/**
 * Paths with their count and noun, for a line: `3 files: ~/.a, ~/.b, ~/.c`, `5,052 files under ~/.big` (all in one
 * folder), `5,053 files: 5,052 under ~/.big, ~/.zshrc` (see pathList).
 */
export function countedPaths(paths: readonly string[], noun: string, options: PathListOptions = {}): string {
  const {named, more, folder, total} = summarise(paths, options)
  if (folder !== undefined) return `${plural(total, noun)} under ${folder}`
  return `${plural(total, noun)}: ${named.join(', ')}${more > 0 ? ` and ${count(more)} more` : ''}`
}

/** What pathList names, how many paths it leaves unnamed, and the one folder that holds them all when it names one. */
function summarise(paths: readonly string[], options: PathListOptions): {named: string[]; more: number; total: number; folder?: string} {
  const show = options.show ?? inHome
  const max = options.max ?? SHOWN
  const home = options.home && options.home !== '/' ? `${options.home}/` : undefined
  const unique = [...new Set(home ? paths.map((p) => (p.startsWith(home) ? p.slice(home.length) : p)) : paths)]
  if (unique.length <= max) return {named: unique.map(show), more: 0, total: unique.length}
  // Largest first (sort is stable: groups of one size keep the order their first paths came in).
  const groups = groupPaths(unique, options.roots ?? []).sort((a, b) => b.paths.length - a.paths.length)
  const shown = groups.slice(0, max)
  const named = shown.map((g) => (g.paths.length === 1 ? show(g.paths[0]) : `${count(g.paths.length)} under ${show(g.folder)}`))
  const more = unique.length - shown.reduce((sum, g) => sum + g.paths.length, 0)
  return {named, more, total: unique.length, ...(groups.length === 1 ? {folder: show(groups[0].folder)} : {})}
}

/** The paths by the root they are in (the deepest one), else by their top folder; each group named by the folder all its paths share. */
function groupPaths(paths: string[], roots: readonly string[]): PathGroup[] {
  const rootSet = new Set(roots)
  const byKey = new Map<string, string[]>()
  for (const path of paths) {
    const key = rootOf(path, rootSet) ?? path.split('/', path.startsWith('/') ? 2 : 1).join('/')
    const group = byKey.get(key)
    if (group) group.push(path)
    else byKey.set(key, [path])
  }
  return [...byKey.values()].map((grouped) => ({folder: sharedFolder(grouped), paths: grouped}))
}

/** The deepest of `roots` that is `path` or holds it: its folders looked up from the deepest (a few lookups a path). */
function rootOf(path: string, roots: ReadonlySet<string>): string | undefined {
  for (let end = path.length; end > 0; end = path.lastIndexOf('/', end - 1)) {
    const prefix = path.slice(0, end)
    if (roots.has(prefix)) return prefix
  }
  return undefined
}

/** The deepest folder that holds every one of `paths` (or is one of them: a directory listed with what is in it). */
function sharedFolder(paths: string[]): string {
  let shared = paths[0]
  for (const path of paths) {
    while (shared !== '' && path !== shared && !path.startsWith(`${shared}/`)) shared = shared.slice(0, Math.max(0, shared.lastIndexOf('/')))
  }
  return shared
}

/** The first `max` of `lines`, then a line saying how many more (`more(n)`, n with thousands separators): details kept short. */
export function someLines(lines: readonly string[], more: (left: string) => string, max = SHOWN): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), more(count(lines.length - max))]
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
