// Names a target may have on this machine that the fleet cannot carry: chezmoi's source name for it would pass the
// length a file name may have, or it holds what no source entry (or no other machine) can take. Checked before a
// new target is added, so that one such name is skipped with the fix instead of stopping every sync.
import {Buffer} from 'node:buffer'

/** The bytes a file name may have (NAME_MAX on Linux and macOS). */
const NAME_MAX = 255
/**
 * The longest run of attribute prefixes chezmoi may give one source name (its mode can change later); it also
 * covers the 20 bytes chezmoi adds to a target's name for the temporary file it writes first.
 */
const ATTRIBUTES = 'private_readonly_executable_empty_'
/** What an encrypted file's source name adds: `encrypted_` and `.age`. */
const ENCRYPTION = 'encrypted_.age'
/** Names chezmoi would read as attributes: it keeps them as they are with `literal_` in front. */
const PREFIX_LIKE =
  /^(after_|before_|create_|dot_|empty_|encrypted_|exact_|executable_|external_|literal_|modify_|once_|onchange_|private_|readonly_|remove_|run_|symlink_)/

/** The bytes chezmoi's source name for a target name takes, before attribute prefixes. */
function encodedBytes(name: string): number {
  let encoded = name.startsWith('.') ? `dot_${name.slice(1)}` : PREFIX_LIKE.test(name) ? `literal_${name}` : name
  if (/\.(tmpl|literal)$/.test(name)) encoded += '.literal'
  return Buffer.byteLength(encoded)
}

/**
 * Why a new target cannot be synced because of its name, with the fix; undefined when it can. `below` is its path
 * below the managed path (each of its names gets a source name of its own).
 */
export function unsyncableName(below: string, encrypted: boolean): string | undefined {
  const room = NAME_MAX - ATTRIBUTES.length - (encrypted ? ENCRYPTION.length : 0)
  for (const name of below.split('/').filter(Boolean)) {
    if (/[\n\r]/.test(name)) return `its name holds a line break, which chezmoi cannot carry to the other machines: rename it without one`
    if (name.includes('\uFFFD')) return `its name is not valid UTF-8, which fleet cannot carry: rename it`
    const bytes = Buffer.byteLength(name)
    const overhead = encodedBytes(name) - bytes
    if (bytes + overhead > room) {
      return `the name ${name.length > 40 ? `${name.slice(0, 40)}…` : name} is ${bytes} bytes long; with the prefixes chezmoi adds to a source name (dot_, private_, executable_${encrypted ? ', encrypted_' : ''}…) it could pass the ${NAME_MAX} bytes a file name may have: rename it to at most ${room - overhead} bytes`
    }
  }
  return undefined
}
