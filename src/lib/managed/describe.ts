// What add-path plans or did, in a person's words.
import type {AddPathPlan} from './paths.ts'

/** Each path `verb` ("Added", "Would add") with its size, the paths it took in, and the plan's warnings. */
export function describeAddPlan(plan: AddPathPlan, verb: string): {lines: string[]; warnings: string[]} {
  const lines = plan.add.map(
    (p) => `${verb} ~/${p.path} (${p.kind}, ${p.files} file${p.files === 1 ? '' : 's'}, ${(p.bytes / 1024).toFixed(1)} KiB${p.encrypt ? ', encrypted' : ''})`,
  )
  for (const m of plan.merged) lines.push(`  ~/${m.inner} was managed on its own: it is now part of ~/${m.outer}`)
  return {lines, warnings: plan.warnings}
}
