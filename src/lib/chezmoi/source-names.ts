// Facts about how chezmoi names source entries: attributes, `remove_` markers, private encrypted files.
// chezmoi reads a source name's prefixes in a fixed order that depends on the entry's type, then `dot_` or
// `literal_`, then (files only) the suffixes; a target whose own name could be read as an attribute is written with
// `literal_` (and `.literal` after a name ending in `.literal` or `.tmpl`). These functions follow the same rules.

/** The kinds of file entry chezmoi knows, by their type prefix. */
export type SourceFileType = 'file' | 'create' | 'modify' | 'remove' | 'script' | 'symlink'

export interface SourceFileName {
  type: SourceFileType
  encrypted: boolean
  template: boolean
  /** The target's base name. */
  targetName: string
}

const ENCRYPTED_SUFFIX = '.age'
/** A file target whose name starts with one of these is written with `literal_` before it. */
const FILE_LITERAL_PREFIX = /^(after|before|create|dot|empty|encrypted|executable|literal|modify|once|private|readonly|remove|run|symlink)_/
/** The same for a directory target. */
const DIR_LITERAL_PREFIX = /^(dot|exact|literal|private|readonly)_/
/** A file target whose name ends with one of these is written with `.literal` after it. */
const FILE_LITERAL_SUFFIX = /\.(literal|tmpl)$/

function cut(name: string, prefix: string): [string, boolean] {
  return name.startsWith(prefix) ? [name.slice(prefix.length), true] : [name, false]
}

function cutAll(name: string, prefixes: string[]): {rest: string; found: Set<string>} {
  const found = new Set<string>()
  let rest = name
  for (const prefix of prefixes) {
    const [next, had] = cut(rest, prefix)
    rest = next
    if (had) found.add(prefix)
  }
  return {rest, found}
}

function cutSuffix(name: string, suffix: string): string {
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name
}

function dotOrLiteral(name: string): string {
  if (name.startsWith('dot_')) return `.${name.slice('dot_'.length)}`
  if (name.startsWith('literal_')) return name.slice('literal_'.length)
  return name
}

/** Type prefixes, each with the attribute prefixes chezmoi reads after it (in this order). */
const FILE_TYPES: Array<[string, SourceFileType, string[]]> = [
  ['create_', 'create', ['encrypted_', 'private_', 'readonly_', 'empty_', 'executable_']],
  ['remove_', 'remove', []],
  ['run_', 'script', []],
  ['symlink_', 'symlink', []],
  ['modify_', 'modify', ['encrypted_', 'private_', 'readonly_', 'executable_']],
]
const FILE_ATTRIBUTES = ['encrypted_', 'private_', 'readonly_', 'empty_', 'executable_']

/** How chezmoi reads a source file's name. */
export function parseSourceFileName(sourceName: string): SourceFileName {
  const [prefix, type, attributes] = FILE_TYPES.find(([p]) => sourceName.startsWith(p)) ?? ['', 'file' as const, FILE_ATTRIBUTES]
  const {rest, found} = cutAll(sourceName.slice(prefix.length), attributes)
  let name = rest
  if (type === 'script') {
    // One of once_ and onchange_, then one of before_ and after_.
    name = name.startsWith('once_') ? name.slice('once_'.length) : cut(name, 'onchange_')[0]
    name = name.startsWith('before_') ? name.slice('before_'.length) : cut(name, 'after_')[0]
  }
  name = dotOrLiteral(name)
  const encrypted = found.has('encrypted_')
  if (encrypted) name = cutSuffix(name, ENCRYPTED_SUFFIX)
  let template = false
  if (name.endsWith('.literal')) name = cutSuffix(name, '.literal')
  else if (name.endsWith('.tmpl')) {
    template = true
    name = cutSuffix(cutSuffix(name, '.tmpl'), '.literal')
  }
  return {type, encrypted, template, targetName: name}
}

/** How chezmoi reads a source directory's name. */
export function parseSourceDirName(sourceName: string): {remove: boolean; targetName: string} {
  if (sourceName.startsWith('remove_')) return {remove: true, targetName: dotOrLiteral(sourceName.slice('remove_'.length))}
  return {remove: false, targetName: dotOrLiteral(cutAll(sourceName, ['external_', 'exact_', 'private_', 'readonly_']).rest)}
}

/**
 * How chezmoi writes a target's base name after the entry's attribute prefixes: `dot_` for a leading dot, `literal_`
 * before a name it would otherwise read as an attribute, and (for a file) `.literal` after a name ending in a suffix
 * it would otherwise strip.
 */
export function encodeTargetName(name: string, kind: 'file' | 'dir' = 'file'): string {
  const literalPrefix = kind === 'file' ? FILE_LITERAL_PREFIX : DIR_LITERAL_PREFIX
  const encoded = name.startsWith('.') ? `dot_${name.slice(1)}` : literalPrefix.test(name) ? `literal_${name}` : name
  return kind === 'file' && FILE_LITERAL_SUFFIX.test(name) ? `${encoded}.literal` : encoded
}

/** The name of the `remove_` entry that tells chezmoi to remove the target with this base name. */
export function removeMarkerName(targetName: string): string {
  return `remove_${encodeTargetName(targetName)}`
}

/** The name of the `remove_` entry for the target of an existing source file. */
export function removeEntryName(sourceName: string): string {
  return removeMarkerName(parseSourceFileName(sourceName).targetName)
}

/**
 * An encrypted file's source name with `private_` added, so that chezmoi writes its decrypted target 0600 (0700
 * executable, 0400 read-only) whatever mode it had where it was added; undefined when it has it already or is not
 * an encrypted file.
 */
export function privateEncryptedName(name: string): string | undefined {
  const match = /^(create_)?encrypted_/.exec(name)
  if (!match || !name.endsWith('.age') || name.slice(match[0].length).startsWith('private_')) return undefined
  return `${match[0]}private_${name.slice(match[0].length)}`
}

/** A target path as a literal pattern for .chezmoiremove (its glob characters escaped). */
export function escapeGlob(path: string): string {
  return path.replace(/[*?[\]{}\\]/g, (c) => `\\${c}`)
}

/**
 * A source path's target path, read from its names alone (for a source file that no longer exists): every component
 * but the last is a directory, the last a file.
 */
export function decodeSourcePath(sourcePath: string): string {
  const components = sourcePath.split('/')
  return components
    .map((component, index) => (index === components.length - 1 ? parseSourceFileName(component).targetName : parseSourceDirName(component).targetName))
    .join('/')
}
