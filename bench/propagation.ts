// Propagation: how long a save on one machine takes to reach the two others, with the default settings (BENCHMARKS.md).
import {randomUUID} from 'node:crypto'
import {setTimeout as sleep} from 'node:timers/promises'

import {DEFAULT_BRANCH} from '../dist/lib/manifest/schema.js'
import {isWithin} from '../dist/lib/platform/paths.js'
import {readOr} from '../test/support/agents.ts'
import type {Machine} from '../test/support/machine.ts'
import {type AgentSettings, BenchFleet, FILE, forgeHead, label, settingsText, syncLog, syncsBetween} from './support/fleet-bed.ts'
import {requests} from './support/forge-counter.ts'
import {type Distribution, distribution, fmt, type Target} from './support/stats.ts'
import {toolVersions} from './support/tool-versions.ts'

/** A save that has not reached a machine by then is a failure of the benchmark (the puller alone takes ≤ 300 s). */
const PROPAGATION_TIMEOUT_MS = 420_000

export interface Save {
  i: number
  /** Write on A → the forge's main moved (A's watcher: debounce, capture, commit, push). */
  forgeMs: number
  bMs: number
  cMs: number
  /** The reason of the sync that applied it on B and on C (from their sync logs). */
  bReason?: string
  cReason?: string
}

export interface PropagationReport {
  node: string
  git: string
  chezmoi: string
  settings: AgentSettings
  saves: Save[]
  pauseMs: [number, number]
  pollMs: number
  distributions: Record<'A → forge' | 'forge → B' | 'forge → C' | 'B' | 'C' | 'B and C pooled' | 'both (later of B, C)', Distribution>
  deliveredBy: Record<string, number>
  /** New commits on the forge's main during the saves (one per save expected). */
  commits: number
  syncs: Record<string, Record<string, number>>
  forgeRequests: Record<string, Record<string, number>>
  trouble: string[]
  baseline: string
  targets: Target[]
}

/** The template's figure beside fleet's: from its design, it was never run (BENCHMARKS.md, "Propagation"). */
export const TEMPLATE_BASELINE =
  "the template's design (not a measurement): on the saving machine a 2 s settle + a 2 s watcher, then each receiver's 300 s poll → p50 ≈ 150 s, worst ≈ 7 min"

/**
 * `saves` saves on A, one at a time, each timed from just before the write until its content is on B and on C
 * (polled every `pollMs`). `settings` overrides the shipped defaults, for what-if runs only.
 */
export async function benchPropagation(options: {saves?: number; pollMs?: number; settings?: Partial<AgentSettings>} = {}): Promise<PropagationReport> {
  const saves = options.saves ?? Number(process.env.BENCH_PROPAGATION_SAVES ?? 20)
  const pollMs = options.pollMs ?? 50
  const fleet = await BenchFleet.create('propagation', options.settings)
  try {
    const [a, b, c] = fleet.machines
    // The pause after a save has arrived everywhere: 1 s plus a random part one forge-check period wide, so saves
    // fall at every phase of the receivers' checks (why: BENCHMARKS.md, "Propagation").
    const pauseMs: [number, number] = [1000, 1000 + fleet.settings.remoteCheckSeconds * 1000]
    await fleet.startAgents()
    await fleet.settle(8000)
    const commitsBefore = Number((await fleet.forge.git(['rev-list', '--count', DEFAULT_BRANCH])).trim())
    const requestsBefore = requests(fleet.counter).length
    const from = Date.now()
    const results: Save[] = []
    const writes: Array<{at: number; content: string}> = []
    for (let i = 1; i <= saves; i++) {
      const content = `save ${i} ${randomUUID()}\n`
      const headBefore = forgeHead(fleet.forge)
      const wroteAt = Date.now()
      const t0 = performance.now()
      a.write(FILE, content)
      let forgeMs: number | undefined
      let bMs: number | undefined
      let cMs: number | undefined
      while (bMs === undefined || cMs === undefined) {
        const now = performance.now() - t0
        if (forgeMs === undefined && forgeHead(fleet.forge) !== headBefore) forgeMs = now
        if (bMs === undefined && readOr(b, FILE) === content) bMs = now
        if (cMs === undefined && readOr(c, FILE) === content) cMs = now
        if (now > PROPAGATION_TIMEOUT_MS) {
          throw new Error(
            `save ${i} did not reach ${bMs === undefined ? 'B' : ''}${cMs === undefined ? ' C' : ''} in ${PROPAGATION_TIMEOUT_MS / 1000} s\n${fleet.running.map((r) => `--- ${label(r.machine)}\n${r.output.slice(-3000)}`).join('\n')}`,
          )
        }
        await sleep(pollMs)
      }
      results.push({i, forgeMs: forgeMs ?? Math.min(bMs, cMs), bMs, cMs})
      writes.push({at: wroteAt, content})
      process.stderr.write(`  propagation: save ${i}/${saves}: B ${fmt(bMs)}, C ${fmt(cMs)}\n`)
      await sleep(pauseMs[0] + Math.random() * (pauseMs[1] - pauseMs[0]))
    }
    const to = Date.now()
    await sleep(3000) // the last syncs' log lines

    // Which sync delivered each save: the receiver's log entry that started after the write and applied the file.
    const deliveredBy: Record<string, number> = {}
    const reasonFor = (m: Machine, wroteAt: number, arrivedMs: number) => {
      const entry = syncLog(m).find((e) => {
        const at = Date.parse(e.at)
        return at >= wroteAt - 1000 && at <= wroteAt + arrivedMs + 1000 && e.applied.some((p) => isWithin(FILE, p))
      })
      const reason = entry?.reason ?? 'unknown'
      deliveredBy[`${label(m)}: ${reason}`] = (deliveredBy[`${label(m)}: ${reason}`] ?? 0) + 1
      return reason
    }
    results.forEach((save, k) => {
      save.bReason = reasonFor(b, writes[k].at, save.bMs)
      save.cReason = reasonFor(c, writes[k].at, save.cMs)
    })

    const commits = Number((await fleet.forge.git(['rev-list', '--count', DEFAULT_BRANCH])).trim()) - commitsBefore
    const forgeRequests: Record<string, Record<string, number>> = {}
    for (const r of requests(fleet.counter).slice(requestsBefore)) {
      const owner = fleet.home[r.home]
      const name = owner ? label(owner) : r.home
      forgeRequests[name] ??= {}
      forgeRequests[name][r.kind] = (forgeRequests[name][r.kind] ?? 0) + 1
    }
    const syncs = Object.fromEntries(fleet.machines.map((m) => [label(m), syncsBetween(m, from, to + 3000)]))

    const bs = results.map((s) => s.bMs)
    const cs = results.map((s) => s.cMs)
    const distributions = {
      'A → forge': distribution(results.map((s) => s.forgeMs)),
      'forge → B': distribution(results.map((s) => s.bMs - s.forgeMs)),
      'forge → C': distribution(results.map((s) => s.cMs - s.forgeMs)),
      B: distribution(bs),
      C: distribution(cs),
      'B and C pooled': distribution([...bs, ...cs]),
      'both (later of B, C)': distribution(results.map((s) => Math.max(s.bMs, s.cMs))),
    }
    const pooled = distributions['B and C pooled']
    const both = distributions['both (later of B, C)']
    const targets: Target[] = [
      {name: 'p50, B and C pooled', target: '≤ 10 s', value: pooled.p50Ms / 1000, unit: 's', met: pooled.p50Ms <= 10_000},
      {name: 'p95, B and C pooled', target: '≤ 20 s', value: pooled.p95Ms / 1000, unit: 's', met: pooled.p95Ms <= 20_000},
      {name: 'p50, both (later of B, C)', target: '≤ 10 s', value: both.p50Ms / 1000, unit: 's', met: both.p50Ms <= 10_000},
      {name: 'p95, both (later of B, C)', target: '≤ 20 s', value: both.p95Ms / 1000, unit: 's', met: both.p95Ms <= 20_000},
    ]
    return {
      ...(await toolVersions()),
      settings: fleet.settings,
      saves: results,
      pauseMs,
      pollMs,
      distributions,
      deliveredBy,
      commits,
      syncs,
      forgeRequests,
      trouble: fleet.trouble(),
      baseline: TEMPLATE_BASELINE,
      targets,
    }
  } finally {
    await fleet.dispose()
  }
}

/** The report as `npm run bench` prints it. */
export function printPropagation(report: PropagationReport): void {
  console.log(
    `\nPropagation: a save on A until it is on B and on C (${report.saves.length} saves, one at a time, unique content; polled every ${report.pollMs} ms; then a random pause of ${report.pauseMs[0] / 1000}–${report.pauseMs[1] / 1000} s (one forge-check period wide, so saves fall at every phase of the receivers' checks); Node ${report.node}; ${report.git}; ${report.chezmoi})`,
  )
  console.log(`  three machines, real agents (fleet agents run), ${settingsText(report.settings)}`)
  console.log(`  ${''.padEnd(22)} ${'n'.padStart(3)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)} ${'min'.padStart(8)}`)
  for (const [name, d] of Object.entries(report.distributions)) {
    console.log(
      `  ${name.padEnd(22)} ${String(d.n).padStart(3)} ${fmt(d.p50Ms).padStart(8)} ${fmt(d.p95Ms).padStart(8)} ${fmt(d.maxMs).padStart(8)} ${fmt(d.minMs).padStart(8)}`,
    )
  }
  console.log(`  baseline: ${report.baseline}`)
  const templateP50 = 150_000
  const both = report.distributions['both (later of B, C)']
  console.log(`  template p50 / fleet p50 (both): ${(templateP50 / both.p50Ms).toFixed(0)}× (against the template's design figure)`)
  console.log(
    `  delivered by (the receiver's sync that applied it): ${Object.entries(report.deliveredBy)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  )
  console.log(`  forge commits during the saves: ${report.commits} for ${report.saves.length} saves`)
  for (const [name, counts] of Object.entries(report.syncs)) {
    console.log(
      `  syncs on ${name}: ${
        Object.entries(counts)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ') || 'none'
      }`,
    )
  }
  for (const [name, counts] of Object.entries(report.forgeRequests)) {
    console.log(
      `  forge requests by ${name} during the saves: ${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    )
  }
  if (report.trouble.length > 0) {
    console.log(`  agents' output worth a look (${report.trouble.length} line(s)):`)
    for (const line of report.trouble.slice(0, 12)) console.log(`    ${line}`)
  }
  console.log('  Targets')
  for (const t of report.targets)
    console.log(`    ${t.met ? 'met   ' : 'MISSED'} ${t.name.padEnd(28)} ${t.value.toFixed(2).padStart(7)} ${t.unit}  (target ${t.target})`)
}
