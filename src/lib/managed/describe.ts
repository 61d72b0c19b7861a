// What add-path and remove-path plan or did, in a person's words: a line for each path named, at most SHOWN of them.
import {plural, someLines} from '../platform/text.ts'
import type {AddPathPlan} from './paths.ts'

/** The line after the first SHOWN paths of a command's list: `--json` has them all. */
const moreInJson = (left: string) => `  … and ${left} more (\`--json\` lists them all)`

/** Each path `verb` ("Added", "Would add") with its size, the paths it took in, and the plan's warnings. */
export function describeAddPlan(plan: AddPathPlan, verb: string): {lines: string[]; warnings: string[]} {
  const lines = someLines(
    plan.add.map((p) => `${verb} ~/${p.path} (${p.kind}, ${plural(p.files, 'file')}, ${(p.bytes / 1024).toFixed(1)} KiB${p.encrypt ? ', encrypted' : ''})`),
    moreInJson,
  )
  lines.push(
    ...someLines(
      plan.merged.map((m) => `  ~/${m.inner} was managed on its own: it is now part of ~/${m.outer}`),
      moreInJson,
    ),
  )
  return {lines, warnings: plan.warnings}
}

/** The paths `add-path --plain-text` confirmed as no secret. */
export function describePlainText(paths: string[]): string[] {
  return someLines(
    paths.map((path) => `~/${path} is synced in plain text from now on.`),
    moreInJson,
  )
}

/** The paths remove-path stopped syncing. */
export function describeRemoved(paths: string[]): string[] {
  return someLines(
    paths.map((path) => `No longer synced: ~/${path} (the files stay on every machine)`),
    moreInJson,
  )
}
