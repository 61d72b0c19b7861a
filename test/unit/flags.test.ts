// Every command's flags and args, as people and their scripts type them, against a committed snapshot: a flag that
// is renamed, loses its short form or changes its type or default breaks someone's script, so it is a deliberate act.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {REPO_ROOT} from '../support/cli.ts'

const MANIFEST = join(REPO_ROOT, 'oclif.manifest.json')
const SNAPSHOT = join(REPO_ROOT, 'test/unit/__snapshots__/flags.json')
const UPDATE = 'UPDATE_SNAPSHOTS=1 npx mocha test/unit/flags.test.ts'

interface ManifestFlag {
  char?: string
  type: string
  allowNo?: boolean
  required?: boolean
  default?: unknown
  multiple?: boolean
  options?: string[]
}

interface ManifestArg {
  name: string
  required?: boolean
  default?: unknown
  options?: string[]
}

interface ManifestCommand {
  strict?: boolean
  flags: Record<string, ManifestFlag>
  args: Record<string, ManifestArg>
}

/** What a person types for one command: its flags by name, its args in order, and whether it takes more args (strict: false). */
interface CommandSurface {
  strict: boolean
  args: Array<Pick<ManifestArg, 'name' | 'required' | 'default' | 'options'>>
  flags: Record<string, ManifestFlag>
}

/** Every command's surface, commands and flags in name order, each field written out so that a change shows. */
function surface(commands: Record<string, ManifestCommand>): Record<string, CommandSurface> {
  const byId: Record<string, CommandSurface> = {}
  for (const id of Object.keys(commands).sort()) {
    const command = commands[id]
    const flags: Record<string, ManifestFlag> = {}
    for (const name of Object.keys(command.flags).sort()) {
      const flag = command.flags[name]
      flags[name] = {
        ...(flag.char === undefined ? {} : {char: flag.char}),
        type: flag.type,
        ...(flag.type === 'boolean' ? {allowNo: Boolean(flag.allowNo)} : {}),
        required: Boolean(flag.required),
        ...(flag.default === undefined ? {} : {default: flag.default}),
        multiple: Boolean(flag.multiple),
        ...(flag.options === undefined ? {} : {options: flag.options}),
      }
    }
    const args = Object.values(command.args).map((arg) => ({
      name: arg.name,
      required: Boolean(arg.required),
      ...(arg.default === undefined ? {} : {default: arg.default}),
      ...(arg.options === undefined ? {} : {options: arg.options}),
    }))
    byId[id] = {strict: command.strict !== false, args, flags}
  }
  return byId
}

const shown = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value))
const keysOf = (...records: Array<object | undefined>) => [...new Set(records.flatMap((record) => Object.keys(record ?? {})))].sort()

/** One line for each difference: a command or flag gone or new, or a field that changed (before → now). */
function differences(before: Record<string, CommandSurface>, now: Record<string, CommandSurface>): string[] {
  const lines: string[] = []
  for (const id of keysOf(before, now)) {
    const command = `fleet ${id.replaceAll(':', ' ')}`
    const [was, is] = [before[id], now[id]]
    if (!was || !is) {
      lines.push(`${command}: ${was ? 'gone' : 'new'}`)
      continue
    }
    for (const field of ['strict', 'args'] as const) {
      if (shown(was[field]) !== shown(is[field])) lines.push(`${command} ${field}: ${shown(was[field])} → ${shown(is[field])}`)
    }
    for (const name of keysOf(was.flags, is.flags)) {
      const [wasFlag, isFlag] = [was.flags[name], is.flags[name]]
      if (!wasFlag || !isFlag) {
        lines.push(`${command} --${name}: ${wasFlag ? 'gone' : 'new'}`)
        continue
      }
      for (const field of keysOf(wasFlag, isFlag) as Array<keyof ManifestFlag>) {
        if (shown(wasFlag[field]) !== shown(isFlag[field])) lines.push(`${command} --${name} ${field}: ${shown(wasFlag[field])} → ${shown(isFlag[field])}`)
      }
    }
  }
  return lines
}

describe("every command's flags and args", function () {
  it('are those of the committed snapshot', function () {
    if (!existsSync(MANIFEST)) assert.fail(`${MANIFEST} is missing: run \`npm run build\` first`)
    const now = surface((JSON.parse(readFileSync(MANIFEST, 'utf8')) as {commands: Record<string, ManifestCommand>}).commands)
    if (process.env.UPDATE_SNAPSHOTS) {
      writeFileSync(SNAPSHOT, `${JSON.stringify(now, null, 2)}\n`)
      return
    }
    const snapshot = relative(REPO_ROOT, SNAPSHOT)
    if (!existsSync(SNAPSHOT)) assert.fail(`${snapshot} is missing: run \`${UPDATE}\` and commit it`)
    const changed = differences(JSON.parse(readFileSync(SNAPSHOT, 'utf8')), now)
    if (changed.length > 0) {
      assert.fail(
        [
          `The commands' flags and args are not those of ${snapshot} (built from the source by \`npm run build\`):`,
          ...changed.map((line) => `  ${line}`),
          'People and their scripts type these: a renamed or retyped flag breaks them.',
          `If the change is deliberate, run \`${UPDATE}\` and commit ${snapshot} with it.`,
        ].join('\n'),
      )
    }
  })
})
