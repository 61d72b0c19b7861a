// Reading and writing the manifest: every read validates (the error names the file, the field and the fix);
// every write is atomic.
import {mkdir, readFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import {parseDocument, stringify} from 'yaml'
import type {z} from 'zod'

import {FleetError} from '../errors/index.ts'
import {type Fleet, MANIFEST_VERSION, manifestFileSchema} from './schema.ts'

export const MANIFEST_RELATIVE_PATH = '.chezmoidata/fleet.yaml'

export function manifestPath(sourceDir: string): string {
  return join(sourceDir, MANIFEST_RELATIVE_PATH)
}

export class ManifestError extends FleetError {
  constructor(message: string, fix: string) {
    super(message, {fix, code: 'MANIFEST_INVALID'})
    this.name = 'ManifestError'
  }
}

const EDIT_FIX = (file: string) =>
  `Correct the field in ${file}, then run the command again (\`fleet sync\` says which commit brought this version and how to undo it).`

function fieldName(path: PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '')
}

/** Parse and validate manifest text. `file` names the source of the text in errors. */
export function parseManifest(text: string, file: string): Fleet {
  const document = parseDocument(text, {prettyErrors: true, uniqueKeys: true})
  if (document.errors.length > 0) {
    const first = document.errors[0]
    throw new ManifestError(`${file} is not valid YAML: ${first.message.split('\n')[0].replace(/:$/, '')}`, EDIT_FIX(file))
  }
  const raw: unknown = document.toJS()
  const version = (raw as {fleet?: {version?: unknown}} | null)?.fleet?.version
  if (typeof version === 'number' && version > MANIFEST_VERSION) {
    throw new FleetError(`${file} uses manifest schema version ${version}; this fleet understands versions up to ${MANIFEST_VERSION}.`, {
      code: 'MANIFEST_TOO_NEW',
      fix: 'Another machine runs a newer fleet. Upgrade fleet here (npm install -g @dotfleet/fleet@latest), then run the command again. Nothing was changed.',
    })
  }
  const result = manifestFileSchema.safeParse(raw)
  if (!result.success) throw new ManifestError(describeIssues(file, result.error.issues), EDIT_FIX(file))
  return result.data.fleet
}

function describeIssues(file: string, issues: z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, 5).map((issue) => {
    const field = fieldName(issue.path)
    return `  ${field || '(top level)'}: ${issue.message}`
  })
  const more = issues.length > 5 ? `\n  … and ${issues.length - 5} more` : ''
  return `${file} is not a valid fleet manifest:\n${lines.join('\n')}${more}`
}

export async function readManifest(sourceDir: string): Promise<Fleet> {
  const file = manifestPath(sourceDir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FleetError(`${file} does not exist: this machine is not enrolled in a fleet.`, {
        code: 'NOT_ENROLLED',
        fix: 'Run `fleet enroll` to start a fleet or join one.',
      })
    }
    throw error
  }
  return parseManifest(text, file)
}

const HEADER = `# The fleet manifest: managed paths, the roster of machines, settings.
# Written by fleet; chezmoi templates read it as .fleet. Change it with fleet commands where one exists.
`

export function renderManifest(fleet: Fleet): string {
  // Validate before writing so a bad value never reaches the forge.
  const checked = manifestFileSchema.parse({fleet})
  return HEADER + stringify(checked, {lineWidth: 0})
}

export async function writeManifest(sourceDir: string, fleet: Fleet): Promise<void> {
  await mkdir(dirname(manifestPath(sourceDir)), {recursive: true})
  await writeFileAtomic(manifestPath(sourceDir), renderManifest(fleet), {mode: 0o644})
}
