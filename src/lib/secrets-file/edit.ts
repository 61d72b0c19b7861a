// `fleet secrets edit`: the person's editor on a copy of the secrets file, in a fresh directory only they can enter
// (memory-backed $XDG_RUNTIME_DIR when there is one). The directory is removed however the editor ends — a non-zero
// exit, a signal — and when fleet itself is interrupted; one left by a fleet killed with SIGKILL is removed by the
// next edit (its name carries the owner's pid, and a file in it when that process started).
import {lstatSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {execa} from 'execa'

import {FleetError, UsageError} from '../errors/index.ts'
import type {LocalFleet} from '../fleet/local.ts'
import {withFleetLock} from '../lock/fleet-lock.ts'
import {processAlive, processStart} from '../lock/lock.ts'
import {type DotenvDocument, parseDotenv} from '../secrets/dotenv.ts'
import {mergeSecrets} from '../secrets/merge.ts'
import {readSecretsText, SECRETS_DISPLAY, writeSecrets} from './store.ts'

const DIR_PREFIX = 'fleet-secrets-'
const OWNER_FILE = 'owner'
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const SIGNAL_NUMBERS: Record<(typeof SIGNALS)[number], number> = {SIGHUP: 1, SIGINT: 2, SIGTERM: 15}

/** Where edit directories go: $XDG_RUNTIME_DIR when it is a directory (memory-backed), else the temporary directory. */
export function editParent(env: NodeJS.ProcessEnv): string {
  const runtime = env.XDG_RUNTIME_DIR
  if (runtime && statSync(runtime, {throwIfNoEntry: false})?.isDirectory()) return runtime
  return tmpdir()
}

/** Remove edit directories whose fleet process is gone (killed with SIGKILL, say); returns how many. */
export function sweepEditDirectories(parent: string): number {
  let removed = 0
  const uid = process.getuid?.()
  for (const name of readdirSync(parent, {withFileTypes: true})) {
    const match = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name.name)
    if (!match || !name.isDirectory()) continue
    const dir = join(parent, name.name)
    if (uid !== undefined && lstatSync(dir).uid !== uid) continue
    const pid = Number(match[1])
    let start: string | undefined
    try {
      start = readFileSync(join(dir, OWNER_FILE), 'utf8').trim()
    } catch {
      start = undefined
    }
    const alive = processAlive(pid) && (start === undefined || start === '' || processStart(pid) === undefined || processStart(pid) === start)
    if (alive) continue
    rmSync(dir, {recursive: true, force: true})
    removed++
  }
  return removed
}

/** Split $VISUAL/$EDITOR into argv the way a shell splits words (quotes and backslashes), with no shell run. */
export function editorArgv(command: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: string | undefined
  for (let i = 0; i < command.length; i++) {
    const c = command[i]
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < command.length && '"\\$`'.includes(command[i + 1])) word = (word ?? '') + command[++i]
      else word = (word ?? '') + c
    } else if (c === "'" || c === '"') {
      quote = c
      word ??= ''
    } else if (c === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i]
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else {
      word = (word ?? '') + c
    }
  }
  if (quote)
    throw new UsageError(`The editor command ${JSON.stringify(command)} has a quote that is never closed.`, 'Fix $VISUAL or $EDITOR.', 'EDITOR_INVALID')
  if (word !== undefined) words.push(word)
  return words
}

/** The editor command: $VISUAL, else $EDITOR, else vi. */
function editorCommand(env: NodeJS.ProcessEnv): string[] {
  const command = env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi'
  const argv = editorArgv(command)
  if (argv.length === 0) throw new UsageError('$VISUAL and $EDITOR name no editor.', 'Set EDITOR to your editor (EDITOR=nano, say).', 'EDITOR_INVALID')
  return argv
}

/** Run the editor on `file`; throws (nothing changed) when it fails or fleet is interrupted, after `cleanup`. */
async function runEditor(argv: string[], file: string, env: NodeJS.ProcessEnv, cleanup: () => void): Promise<void> {
  const child = execa(argv[0], [...argv.slice(1), file], {env, stdio: 'inherit', reject: false})
  let interrupted: (typeof SIGNALS)[number] | undefined
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    interrupted ??= signal
    cleanup() // at once: fleet may not get another chance
    child.kill('SIGTERM')
    // An editor that ignores SIGTERM does not keep fleet alive.
    setTimeout(() => process.exit(128 + SIGNAL_NUMBERS[signal]), 3000).unref()
  }
  for (const signal of SIGNALS) process.on(signal, onSignal)
  try {
    const result = await child
    if (interrupted) {
      throw new FleetError(`fleet was interrupted (${interrupted}) while the editor was open: nothing was changed, and the copy of the secrets was removed.`, {
        code: 'INTERRUPTED',
      })
    }
    if (result.failed) {
      const how = result.signal
        ? `was stopped by ${result.signal}`
        : result.exitCode === undefined
          ? `could not be started (${result.shortMessage})`
          : `exited with status ${result.exitCode}`
      throw new FleetError(`The editor (${argv[0]}) ${how}: nothing was changed, and the copy of the secrets was removed.`, {
        code: 'EDITOR_FAILED',
        fix: result.exitCode === undefined && !result.signal ? 'Set EDITOR (or VISUAL) to an editor on your PATH.' : 'Run `fleet secrets edit` again.',
      })
    }
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal)
  }
}

export interface EditOutcome {
  changed: boolean
  /** Keys added, changed and removed by the edit (names only). */
  added: string[]
  updated: string[]
  removed: string[]
  /** Keys another machine changed while the editor was open, which the edit replaced (their values are in the history). */
  replaced?: string[]
}

/**
 * Edit the secrets in the person's editor. A malformed result is refused with its line number (when `reopen` says
 * so, the editor opens again on it); nothing changes unless the result parses. When the file changed meanwhile (a
 * sync brought another machine's change), the edit is merged into it by key; a key both changed takes the edit's value.
 */
export async function editSecrets(local: LocalFleet, options: {reopen?: (error: FleetError) => Promise<boolean>} = {}): Promise<EditOutcome> {
  const argv = editorCommand(local.env)
  const parent = editParent(local.env)
  sweepEditDirectories(parent)
  // A file left malformed (a hand edit) opens too: the editor is the way to mend it.
  const {text: before} = await readSecretsText(local)
  const original = parsedOrEmpty(before)
  const dir = await mkdtemp(join(parent, `${DIR_PREFIX}${process.pid}-`)) // mode 0700
  const cleanup = () => rmSync(dir, {recursive: true, force: true})
  let after: string
  try {
    await writeFile(join(dir, OWNER_FILE), processStart(process.pid) ?? '', {mode: 0o600})
    const file = join(dir, 'secrets.env')
    await writeFile(file, before, {mode: 0o600, flag: 'wx'})
    for (;;) {
      await runEditor(argv, file, local.env, cleanup)
      after = await readFile(file, 'utf8')
      try {
        parseDotenv(after, SECRETS_DISPLAY)
        break
      } catch (error) {
        if (!(error instanceof FleetError) || !options.reopen || !(await options.reopen(error))) throw error
      }
    }
  } finally {
    cleanup()
  }
  const outcome = describeEdit(original.values(), parseDotenv(after, SECRETS_DISPLAY).values())
  if (after === before) return {...outcome, changed: false}
  let replaced: string[] = []
  await withFleetLock(local.paths, 'secrets edit', async () => {
    const {text: now} = await readSecretsText(local)
    if (now === before) return writeSecrets(local, after)
    const merged = mergeSecrets(before, after, now)
    if (merged.kind === 'merged') return writeSecrets(local, merged.text)
    // A key the person changed in the editor that another machine changed meanwhile: the edit, made last and on
    // purpose, wins (never thrown away); the other value stays in the forge's history, and the outcome names the key.
    replaced = merged.kind === 'conflict' ? merged.keys : []
    return writeSecrets(local, editOnto(parseDotenv(now, SECRETS_DISPLAY), original, parseDotenv(after, SECRETS_DISPLAY)))
  })
  return {...outcome, changed: true, replaced}
}

/** The document `text` holds, or an empty one when it is malformed (every key of the edit then counts as new). */
function parsedOrEmpty(text: string): DotenvDocument {
  try {
    return parseDotenv(text, SECRETS_DISPLAY)
  } catch {
    return parseDotenv('', SECRETS_DISPLAY)
  }
}

/** The person's edit (what changed from `before` to `after`) made to the file as it is `now`. */
function editOnto(now: DotenvDocument, before: DotenvDocument, after: DotenvDocument): string {
  const [was, is] = [before.values(), after.values()]
  for (const key of new Set([...was.keys(), ...is.keys()])) {
    const value = is.get(key)
    if (value === was.get(key)) continue
    if (value === undefined) now.unset(key)
    else if (now.get(key) !== undefined) now.set(key, value)
    else now.append([...after.leadingComments(key), after.entryBlock(key)!])
  }
  return now.toString()
}

function describeEdit(before: Map<string, string>, after: Map<string, string>): Omit<EditOutcome, 'changed'> {
  return {
    added: [...after.keys()].filter((key) => !before.has(key)),
    updated: [...after.keys()].filter((key) => before.has(key) && before.get(key) !== after.get(key)),
    removed: [...before.keys()].filter((key) => !after.has(key)),
  }
}
