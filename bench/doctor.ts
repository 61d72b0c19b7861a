// Doctor's wall time: `fleet doctor --json` as a person runs it, beside its checks run one after another and all at
// once in-process, and beside `chezmoi doctor`, on a fleet of two machines whose forge is over SSH on 127.0.0.1.
import {execa} from 'execa'

import {CORE_CHECKS} from '../dist/lib/doctor/checks/index.js'
import {DoctorContext} from '../dist/lib/doctor/context.js'
import {type DoctorReport, runDoctor} from '../dist/lib/doctor/doctor.js'
import {coreAgents} from '../dist/lib/agents/spec.js'
import {readManifest} from '../dist/lib/manifest/store.js'
import {FLEET_BIN, NODE} from '../test/support/cli.ts'
import {TestFleet} from '../test/support/fleet.ts'
import type {Machine} from '../test/support/machine.ts'
import {fmt, median, type Target} from './support/stats.ts'
import {shortVersion} from './support/tool-versions.ts'

export interface DoctorBenchOptions {
  /** Timed runs of each (after `warmup` untimed ones); the median is reported. */
  runs?: number
  warmup?: number
}

export interface DoctorBenchReport {
  runs: number
  /** How many checks a run reported, and how they came out (the last `fleet doctor --json`). */
  checks: number
  summary: DoctorReport['summary']
  /** The ids of the checks that did not come out ok in that run. */
  notOk: string[]
  medianMs: {
    /** `fleet doctor --json`, spawn to exit. */
    command: number
    /** The same runs' own report of their checks' wall time (the rest is Node, oclif and the hooks). */
    commandChecks: number
    /** runDoctor in this process, checks at once (the command less Node's start-up and the plugin hooks). */
    concurrent: number
    /** runDoctor in this process, one check after another (`serial: true`). */
    serial: number
    /** The sum of the checks' own durations in the serial runs. */
    sumOfChecks: number
    /** `chezmoi doctor --no-network`, spawn to exit. */
    chezmoiDoctor: number
  }
  ratio: {commandToSerial: number; concurrentToSerial: number; commandToChezmoi: number}
  chezmoiVersion: string
  targets: Target[]
}

/** What the goal asks for: this many checks, in this much wall time. */
const GOAL_CHECKS = 15
const GOAL_MS = 1500

export async function benchDoctor(options: DoctorBenchOptions = {}): Promise<DoctorBenchReport> {
  const runs = options.runs ?? 7
  const warmup = options.warmup ?? 2
  process.stderr.write('  doctor: setting up two machines, the forge over ssh on 127.0.0.1…\n')
  const fleet = await TestFleet.start('bench-doctor', {machines: ['a', 'b'], ssh: true})
  try {
    const [a] = fleet.machines
    await a.sync()
    // The core's agents, as the fleet:agents hook gives them to the command (no plugins here).
    const agents = coreAgents((await readManifest(a.sourceDir)).settings.agents).map((spec) => ({...spec, source: '@dotfleet/fleet'}))
    const samples = {
      command: [] as number[],
      commandChecks: [] as number[],
      concurrent: [] as number[],
      serial: [] as number[],
      sumOfChecks: [] as number[],
      chezmoiDoctor: [] as number[],
    }
    let last: DoctorReport | undefined
    // Interleaved, A B C D A B C D …, so that a change in the machine's load touches each alike.
    for (let i = 0; i < warmup + runs; i++) {
      const command = await timeDoctorCommand(a)
      const concurrent = await inProcess(a, () => runDoctor(new DoctorContext({env: process.env, agents}), {checks: CORE_CHECKS}))
      const serial = await inProcess(a, () => runDoctor(new DoctorContext({env: process.env, agents}), {checks: CORE_CHECKS, serial: true}))
      const chezmoi = await timeChezmoiDoctor(a)
      if (i < warmup) continue
      samples.command.push(command.ms)
      samples.commandChecks.push(command.report.durationMs)
      samples.concurrent.push(concurrent.durationMs)
      samples.serial.push(serial.durationMs)
      samples.sumOfChecks.push(serial.checks.reduce((sum, check) => sum + (check.durationMs ?? 0), 0))
      samples.chezmoiDoctor.push(chezmoi)
      last = command.report
    }
    const medianMs = {
      command: median(samples.command),
      commandChecks: median(samples.commandChecks),
      concurrent: median(samples.concurrent),
      serial: median(samples.serial),
      sumOfChecks: median(samples.sumOfChecks),
      chezmoiDoctor: median(samples.chezmoiDoctor),
    }
    const checks = last!.checks.length
    return {
      runs,
      checks,
      summary: last!.summary,
      notOk: last!.checks.filter((check) => check.status !== 'ok').map((check) => `${check.id} (${check.status})`),
      medianMs,
      ratio: {
        commandToSerial: medianMs.command / medianMs.serial,
        concurrentToSerial: medianMs.concurrent / medianMs.serial,
        commandToChezmoi: medianMs.command / medianMs.chezmoiDoctor,
      },
      chezmoiVersion: await shortVersion('chezmoi'),
      targets: [
        {
          name: '`fleet doctor --json`, median wall time',
          target: `≤ ${GOAL_MS / 1000} s`,
          value: medianMs.command / 1000,
          unit: 's',
          met: medianMs.command <= GOAL_MS,
        },
        {name: 'checks run', target: `≥ ${GOAL_CHECKS}`, value: checks, unit: 'checks', met: checks >= GOAL_CHECKS},
      ],
    }
  } finally {
    await fleet.remove()
  }
}

/** `fleet doctor --json` on the machine, spawn to exit; exit 1 (a check failed) still counts, and is reported. */
async function timeDoctorCommand(machine: Machine): Promise<{ms: number; report: DoctorReport}> {
  const start = process.hrtime.bigint()
  const result = await execa(NODE, [FLEET_BIN, 'doctor', '--json'], {env: machine.env, extendEnv: false, cwd: machine.home, reject: false, stdin: 'ignore'})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`fleet doctor exited ${result.exitCode}: ${String(result.stderr)}`)
  return {ms, report: JSON.parse(String(result.stdout)) as DoctorReport}
}

/** `chezmoi doctor` on the machine (without its check for a newer release, which needs the internet), spawn to exit. */
async function timeChezmoiDoctor(machine: Machine): Promise<number> {
  const start = process.hrtime.bigint()
  // It exits 1 when one of its checks fails (no pager, no editor, …): the time is what is measured.
  await execa('chezmoi', ['doctor', '--no-network'], {env: machine.env, extendEnv: false, cwd: machine.home, reject: false, stdin: 'ignore'})
  return Number(process.hrtime.bigint() - start) / 1e6
}

/**
 * Run `work` in this process as if it were the machine: the processes the checks start inherit this process's
 * environment (HOME, PATH, the forge's GIT_SSH_COMMAND), so it is the machine's for the while.
 */
async function inProcess<T>(machine: Machine, work: () => Promise<T>): Promise<T> {
  const saved = {...process.env}
  const env = machine.env // read before this process's environment is cleared: it builds on its PATH
  const cwd = process.cwd()
  for (const key of Object.keys(process.env)) delete process.env[key]
  Object.assign(process.env, env)
  process.chdir(machine.home)
  try {
    return await work()
  } finally {
    process.chdir(cwd)
    for (const key of Object.keys(process.env)) delete process.env[key]
    Object.assign(process.env, saved)
  }
}

export function printDoctor(report: DoctorBenchReport): void {
  const {medianMs, ratio} = report
  console.log(`\nDoctor (median of ${report.runs} runs each, interleaved; two machines, the forge over ssh on 127.0.0.1; ${report.chezmoiVersion})`)
  const s = report.summary
  console.log(
    `  checks: ${report.checks} (${s.ok} ok, ${s.warn} warn, ${s.fail} fail, ${s.skip} skip)${report.notOk.length > 0 ? `; not ok: ${report.notOk.join(', ')}` : ''}`,
  )
  const rows: Array<[string, number, string]> = [
    ['fleet doctor --json', medianMs.command, `${ratio.commandToSerial.toFixed(2)}× serial, ${ratio.commandToChezmoi.toFixed(2)}× chezmoi doctor`],
    ['  its checks, as it reports them', medianMs.commandChecks, ''],
    ['runDoctor, at once (in-process)', medianMs.concurrent, `${ratio.concurrentToSerial.toFixed(2)}× serial`],
    ['runDoctor, serial (in-process)', medianMs.serial, ''],
    ['  sum of the checks’ times', medianMs.sumOfChecks, ''],
    ['chezmoi doctor --no-network', medianMs.chezmoiDoctor, ''],
  ]
  for (const [name, ms, note] of rows) console.log(`  ${name.padEnd(44)} ${fmt(ms).padStart(8)}   ${note}`)
  for (const t of report.targets)
    console.log(`  target ${t.name}: ${t.target} — ${t.value.toFixed(t.unit === 's' ? 2 : 0)} ${t.unit}, ${t.met ? 'met' : 'NOT met'}`)
}
