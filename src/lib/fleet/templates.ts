// Files laid into a new fleet's source repo, kept as text under templates/ in the package.
import {readFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'

/** templates/ at the package root (this file is src/lib/fleet/ or dist/lib/fleet/). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url))

/** A template's text, by its file name under templates/. */
export async function template(name: 'authorized_keys' | 'chezmoiignore' | 'secrets.env'): Promise<string> {
  return readFile(`${TEMPLATES_DIR}${name}`, 'utf8')
}

/** The secrets file every fleet starts with, relative to $HOME. */
export const SECRETS_PATH = '.config/fleet/secrets.env'
