// Facts about how chezmoi names source entries: attributes, `remove_` markers, private encrypted files.
import {basename} from 'node:path'

const TYPE_PREFIXES = ['create_', 'modify_', 'remove_', 'run_', 'symlink_']
const ATTRIBUTE_PREFIXES = ['encrypted_', 'private_', 'readonly_', 'empty_', 'executable_', 'once_', 'onchange_', 'before_', 'after_', 'exact_', 'external_']

/** A source name without its type prefix and attribute prefixes; whether one of them was `encrypted_`. */
function stripAttributes(name: string): {rest: string; encrypted: boolean} {
  let rest = name
  let encrypted = false
  const type = TYPE_PREFIXES.find((p) => rest.startsWith(p))
  if (type) rest = rest.slice(type.length)
  for (let stripped = true; stripped; ) {
    stripped = false
    for (const prefix of ATTRIBUTE_PREFIXES) {
      if (rest.startsWith(prefix)) {
        encrypted ||= prefix === 'encrypted_'
        rest = rest.slice(prefix.length)
        stripped = true
      }
    }
  }
  return {rest, encrypted}
}

/** A file's source name without its `.tmpl` suffix, and without `.age` when it is encrypted. */
function stripSuffixes(rest: string, encrypted: boolean): string {
  const plain = rest.endsWith('.tmpl') ? rest.slice(0, -'.tmpl'.length) : rest
  return encrypted && plain.endsWith('.age') ? plain.slice(0, -'.age'.length) : plain
}

/** The name of the source entry that tells chezmoi to remove a file: `remove_` + the target name's encoding. */
export function removeEntryName(sourceName: string): string {
  const {rest, encrypted} = stripAttributes(sourceName)
  return `remove_${stripSuffixes(rest, encrypted)}`
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

/** How chezmoi encodes a target's base name in the source (for the cases fleet writes itself). */
export function encodeTargetName(name: string): string {
  return name.startsWith('.') ? `dot_${name.slice(1)}` : name
}

/** A target path as a literal pattern for .chezmoiremove (its glob characters escaped). */
export function escapeGlob(path: string): string {
  return path.replace(/[*?[\]{}\\]/g, (c) => `\\${c}`)
}

/** A source path's target path, read from its name alone (for a source file that no longer exists). */
export function decodeSourcePath(sourcePath: string): string {
  const components = sourcePath.split('/')
  return components
    .map((component, index) => {
      if (component.startsWith('literal_')) return component.slice('literal_'.length)
      const {rest, encrypted} = stripAttributes(component)
      const name = rest.startsWith('dot_') ? `.${rest.slice('dot_'.length)}` : rest
      return index === components.length - 1 ? stripSuffixes(name, encrypted) : name
    })
    .join('/')
}
