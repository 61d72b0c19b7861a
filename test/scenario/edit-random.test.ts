// A seeded randomized scenario: three machines edit, create and delete files (in their targets, and by hand in
// the source repo the way `chezmoi edit` does), sync, get killed mid-sync and lose the forge for a while. The model
// (test/support/random-model.ts) never makes a real conflict: each machine only changes lines and files it owns.
// So every sync must exit 0 (or 3 with the forge down), and once the fleet has settled every machine must hold,
// for every slot and file, exactly the latest version its owner wrote; the forge's history never goes back.
//
// Environment:
//   FLEET_RANDOM_SEED=<n>   replay a run (the seed is printed in the failure message and at the end)
//   FLEET_RANDOM_STEPS=<n>  number of random steps (default 30; 300 with FLEET_RANDOM_LONG)
//   FLEET_RANDOM_LONG=1     long mode: a Date-based seed (unless FLEET_RANDOM_SEED is set) and 300 steps
//   FLEET_RANDOM_WITHOUT=<op>,<op>  leave some operations out (e.g. edit-secret), to look past one known failure
//   FLEET_TEST_KEEP=1       keep the machines' directories for a look afterwards
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, renameSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {FLEET_BIN, NODE} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'
import {diffSlots, fileHistoryViolations, INITIAL_TOKEN, mulberry32, renderSlots, setSlot, slotHistoryViolations} from '../support/random-model.ts'

const NAMES = ['alpha', 'beta', 'gamma'] as const
type Name = (typeof NAMES)[number]
const SLOTS_PER_MACHINE = 4
const SLOTS = NAMES.length * SLOTS_PER_MACHINE
const SHARED = '.shared.conf'
const SECRET = '.secret.conf'
const SHARED_SOURCE = 'dot_shared.conf'
const RND = '.config/rnd'
const RND_README = 'constant: every machine writes only its own files here\n'
const MAX_FILES_PER_MACHINE = 5
const SETTLE_ROUNDS = 3

const long = Boolean(process.env.FLEET_RANDOM_LONG)
const SEED = process.env.FLEET_RANDOM_SEED ? Number(process.env.FLEET_RANDOM_SEED) >>> 0 : long ? Date.now() % 2_147_483_647 : 1
const STEPS = process.env.FLEET_RANDOM_STEPS ? Number(process.env.FLEET_RANDOM_STEPS) : long ? 300 : 30

type SyncRun = Awaited<ReturnType<Machine['sync']>>
type Op = 'edit-shared' | 'edit-secret' | 'source-edit' | 'hand-commit' | 'file-write' | 'file-delete' | 'sync' | 'sync-killed' | 'sync-forge-down'
const WITHOUT = new Set(
  (process.env.FLEET_RANDOM_WITHOUT ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean),
)
const ALL_WEIGHTS: Array<[Op, number]> = [
  ['edit-shared', 17],
  ['edit-secret', 10],
  ['source-edit', 8],
  ['hand-commit', 3],
  ['file-write', 10],
  ['file-delete', 4],
  ['sync', 34],
  ['sync-killed', 10],
  ['sync-forge-down', 4],
]
const WEIGHTS = ALL_WEIGHTS.filter(([op]) => !WITHOUT.has(op))
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, w]) => sum + w, 0)

function pickOp(r: number): Op {
  let x = r * TOTAL_WEIGHT
  for (const [op, w] of WEIGHTS) {
    if (x < w) return op
    x -= w
  }
  return WEIGHTS.at(-1)![0]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether any live (not zombie) process is still in a process group. */
function groupAlive(pgid: number): boolean {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  }
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // state ppid pgrp …
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true
    } catch {
      // gone meanwhile
    }
  }
  return false
}

function tail(text: string, lines = 25): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

describe(`edit-random: seeded random edits, syncs and faults on three machines (seed ${SEED}, ${STEPS} steps${WITHOUT.size > 0 ? `, without ${[...WITHOUT].join(', ')}` : ''})`, function () {
  let fleet: TestFleet
  let forge: Forge
  const machines = {} as Record<Name, Machine>

  // The model: what the owner of each slot and file wrote last.
  const expected: Record<typeof SHARED | typeof SECRET, string[]> = {
    [SHARED]: Array.from({length: SLOTS}, () => INITIAL_TOKEN),
    [SECRET]: Array.from({length: SLOTS}, () => INITIAL_TOKEN),
  }
  const counters = new Map<Name, number>(NAMES.map((n) => [n, 0]))
  /** `.config/rnd/<owner>-<i>` → its latest token, or 'deleted'. */
  const files = new Map<string, string>()
  const nextFile = new Map<Name, number>(NAMES.map((n) => [n, 0]))
  // Slots of the shared file edited in the source (not applied) and in the target (not captured) since the
  // machine's last sync that exited 0: editing one slot both ways would be a real conflict, which the model avoids.
  const sourcePending = new Map<Name, Set<number>>(NAMES.map((n) => [n, new Set()]))
  const targetPending = new Map<Name, Set<number>>(NAMES.map((n) => [n, new Set()]))

  const log: string[] = []
  const freshToken = (name: Name) => {
    const next = counters.get(name)! + 1
    counters.set(name, next)
    return `${name}-${next}`
  }

  before(async function () {
    this.timeout(240_000)
    fleet = await TestFleet.start('random', {machines: [...NAMES]})
    forge = fleet.forge
    for (const machine of fleet.machines) machines[machine.name as Name] = machine
    const {alpha, beta, gamma} = machines
    alpha.write(SHARED, renderSlots(SLOTS, 'shared, plain'))
    alpha.write(SECRET, renderSlots(SLOTS, 'shared, encrypted'))
    alpha.write(`${RND}/README`, RND_README)
    await alpha.addPath([SHARED, RND])
    await alpha.addPath(SECRET, {encrypt: true})
    for (const m of [beta, gamma, alpha]) await m.sync()
    for (const m of [alpha, beta, gamma]) {
      assert.equal(m.read(SHARED), renderSlots(SLOTS, 'shared, plain'), `${m.name} has the shared file`)
      assert.equal(m.read(SECRET), renderSlots(SLOTS, 'shared, encrypted'), `${m.name} has the secret file`)
      assert.equal(m.read(`${RND}/README`), RND_README)
    }
  })
  after(() => fleet?.remove())

  it('every edit survives: after settling, every machine holds what each owner wrote last, and the forge never goes back', async function () {
    this.timeout(240_000 + STEPS * 8000)
    const started = Date.now()
    let failure: string | undefined
    let failureOutput = ''
    let clean = 0
    let syncs = 0

    /** A repo a sync left mid-operation: a person's `chezmoi edit` there is not something the model asks of it. */
    const sourceBusy = (m: Machine): string | undefined => {
      for (const mark of ['rebase-merge', 'rebase-apply', 'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'index.lock']) {
        if (existsSync(join(m.sourceDir, '.git', mark))) return `.git/${mark}`
      }
      try {
        const state = JSON.parse(readFileSync(m.syncFiles.state, 'utf8'))
        if (state.integrating) return 'a sync was killed while integrating'
      } catch {
        // no state yet
      }
      return undefined
    }

    const describeSync = (run: SyncRun): string => {
      try {
        const r = run.result
        const parts: string[] = [r.outcome]
        if (r.captured?.length) parts.push(`cap=[${r.captured.join(',')}]`)
        if (r.received) parts.push(`recv=${r.received}`)
        if (r.pushed) parts.push(`push=${r.pushed}`)
        if (r.applied?.length) parts.push(`app=[${r.applied.join(',')}]`)
        if (r.leftAlone?.length) parts.push(`leftAlone=[${r.leftAlone.join(',')}]`)
        if (r.skipped?.length) parts.push(`skipped=[${r.skipped.map((s) => s.path).join(',')}]`)
        if (r.conflicts?.length) parts.push(`CONFLICTS=[${r.conflicts.map((c) => c.path).join(',')}]`)
        if (r.notes?.length) parts.push(`notes=${JSON.stringify(r.notes)}`)
        if (r.error) parts.push(`error=${JSON.stringify(String(r.error).split('\n')[0])}`)
        return parts.join(' ')
      } catch {
        return JSON.stringify(tail(run.stdout + run.stderr, 2))
      }
    }

    const forgeHead = async () => (await forge.head()).slice(0, 7)

    /** A sync with the forge up; exit 0 (or 3) is all the model allows. */
    const runSync = async (m: Machine, prefix: string): Promise<number> => {
      const run = await m.sync({exit: 'any'})
      syncs++
      log.push(`${prefix} sync -> exit ${run.exitCode} ${describeSync(run)} forge=${await forgeHead()}`)
      if (run.exitCode === 0) {
        sourcePending.get(m.name as Name)!.clear()
        targetPending.get(m.name as Name)!.clear()
      }
      if (![0, 3].includes(run.exitCode) && !failure) {
        failure = `${prefix}: fleet sync on ${m.name} exited ${run.exitCode} (the model makes no real conflict)`
        failureOutput = `--- stdout\n${tail(run.stdout, 40)}\n--- stderr\n${tail(run.stderr)}`
      }
      return run.exitCode
    }

    // History: along the forge's main, no slot or file goes back to an older version. Read after every step that
    // synced (only the commits not seen yet), so the first step that pushed a step back is the failure.
    const seen = new Set<string>()
    const plainVersions: Array<{commit: string; subject: string; text: string | undefined}> = []
    const secretVersions: Array<{commit: string; subject: string; text: string | undefined}> = []
    const fileVersions: Array<{commit: string; subject: string; files: Map<string, string>}> = []
    let secretNote = ''
    const forgeHistory = async (): Promise<string[]> => {
      const commits = (await forge.git(['log', '--reverse', '--first-parent', '--format=%H%x09%s', 'main']))
        .split('\n')
        .filter(Boolean)
        .map((line) => ({commit: line.split('\t')[0], subject: line.split('\t').slice(1).join('\t')}))
      for (const {commit, subject} of commits) {
        if (seen.has(commit)) continue
        seen.add(commit)
        const tree = (await forge.git(['ls-tree', '-r', '--name-only', commit])).split('\n').filter(Boolean)
        plainVersions.push({commit, subject, text: tree.includes(SHARED_SOURCE) ? await forge.show(SHARED_SOURCE, commit) : undefined})
        const secretSource = tree.find((p) => /^encrypted_.*dot_secret\.conf\.age$/.test(p))
        let secretText: string | undefined
        if (secretSource && !secretNote) {
          const blob = await execa('git', ['--git-dir', forge.path, 'show', `${commit}:${secretSource}`], {encoding: 'buffer', stripFinalNewline: false})
          const decrypted = await execa('age', ['-d', '-i', machines.alpha.identityFile], {input: blob.stdout, reject: false})
          if (decrypted.exitCode === 0) secretText = String(decrypted.stdout) + '\n'
          else secretNote = `(history of ${secretSource} not checked from ${commit.slice(0, 8)} on: age -d failed: ${tail(String(decrypted.stderr), 2)})`
        }
        secretVersions.push({commit, subject, text: secretText})
        const rnd = new Map<string, string>()
        for (const path of tree.filter((p) => /^dot_config\/rnd\/[a-z]+-\d+$/.test(p))) rnd.set(path, (await forge.show(path, commit)) ?? '')
        fileVersions.push({commit, subject, files: rnd})
      }
      return [
        ...slotHistoryViolations(SHARED_SOURCE, plainVersions, [...NAMES]),
        ...slotHistoryViolations(SECRET, secretVersions, [...NAMES]),
        ...fileHistoryViolations(fileVersions),
      ]
    }

    const rand = mulberry32(SEED)
    for (let step = 1; step <= STEPS && !failure; step++) {
      // Always the same number of draws per step, so a replay follows the same choices whatever was skipped.
      const [rOp, rMachine, rWhich, rDelay, rVariant] = [rand(), rand(), rand(), rand(), rand()]
      const op = pickOp(rOp)
      const index = Math.floor(rMachine * NAMES.length)
      const name = NAMES[index]
      const m = machines[name]
      const slot = index + NAMES.length * Math.floor(rWhich * SLOTS_PER_MACHINE)
      const prefix = `#${String(step).padStart(3)} ${name.padEnd(5)}`

      switch (op) {
        case 'edit-shared':
        case 'edit-secret': {
          const file = op === 'edit-shared' ? SHARED : SECRET
          if (!m.exists(file)) {
            log.push(`${prefix} ${op} s${slot}: skipped (no target file)`)
            break
          }
          if (file === SHARED && sourcePending.get(name)!.has(slot)) {
            log.push(`${prefix} ${op} s${slot}: skipped (edited in the source since the last clean sync)`)
            break
          }
          const token = freshToken(name)
          const next = setSlot(m.read(file), slot, token)
          if (next === undefined) {
            log.push(`${prefix} ${op} s${slot}: skipped (the target does not hold s${slot} once: ${JSON.stringify(m.read(file).slice(0, 200))})`)
            break
          }
          m.write(file, next)
          expected[file][slot] = token
          if (file === SHARED) targetPending.get(name)!.add(slot)
          log.push(`${prefix} ${op} s${slot} = ${token}`)
          break
        }

        case 'source-edit': {
          const source = join(m.sourceDir, SHARED_SOURCE)
          const busy = sourceBusy(m)
          if (busy || !existsSync(source)) {
            log.push(`${prefix} source-edit s${slot}: skipped (${busy ?? 'no source file'})`)
            break
          }
          if (targetPending.get(name)!.has(slot)) {
            log.push(`${prefix} source-edit s${slot}: skipped (edited in the target since the last clean sync)`)
            break
          }
          const token = freshToken(name)
          const next = setSlot(readFileSync(source, 'utf8'), slot, token)
          if (next === undefined) {
            log.push(`${prefix} source-edit s${slot}: skipped (the source does not hold s${slot} once)`)
            break
          }
          m.write(m.sourceFile(SHARED_SOURCE), next)
          expected[SHARED][slot] = token
          sourcePending.get(name)!.add(slot)
          // Now and then committed at once, the way a person finishing `chezmoi edit` with a commit does.
          if (rVariant < 0.35) {
            const committed = await execa('git', ['-C', m.sourceDir, 'commit', '-qam', 'hand edit'], {env: m.env, extendEnv: false, reject: false})
            log.push(`${prefix} source-edit s${slot} = ${token} (chezmoi edit, no apply) + hand commit -> exit ${committed.exitCode}`)
          } else {
            log.push(`${prefix} source-edit s${slot} = ${token} (chezmoi edit, no apply)`)
          }
          break
        }

        case 'hand-commit': {
          const busy = sourceBusy(m)
          if (busy) {
            log.push(`${prefix} hand-commit: skipped (${busy})`)
            break
          }
          const committed = await execa('git', ['-C', m.sourceDir, 'commit', '-qam', 'hand edit'], {env: m.env, extendEnv: false, reject: false})
          log.push(`${prefix} hand-commit -> ${committed.exitCode === 0 ? 'committed' : 'nothing to commit'}`)
          break
        }

        case 'file-write': {
          const count = nextFile.get(name)!
          const i = count < MAX_FILES_PER_MACHINE ? Math.floor(rWhich * (count + 1)) : Math.floor(rWhich * count)
          if (i === count) nextFile.set(name, count + 1)
          const key = `${name}-${i}`
          const before = files.get(key)
          const token = freshToken(name)
          m.write(`${RND}/${key}`, `v = ${token}\n`)
          files.set(key, token)
          log.push(`${prefix} file-write ${RND}/${key} = ${token} (${before === undefined ? 'new' : before === 'deleted' ? 'created again' : 'rewritten'})`)
          break
        }

        case 'file-delete': {
          const live = [...files.entries()].filter(([key, token]) => key.startsWith(`${name}-`) && token !== 'deleted').map(([key]) => key)
          if (live.length === 0) {
            log.push(`${prefix} file-delete: skipped (no file of its own)`)
            break
          }
          const key = live[Math.floor(rWhich * live.length)]
          const wasThere = m.exists(`${RND}/${key}`)
          m.remove(`${RND}/${key}`)
          files.set(key, 'deleted')
          log.push(`${prefix} file-delete ${RND}/${key}${wasThere ? '' : ' (it was already gone from disk!)'}`)
          break
        }

        case 'sync': {
          await runSync(m, prefix)
          break
        }

        case 'sync-killed': {
          const delay = 50 + Math.floor(rDelay * 850)
          const tree = rVariant < 0.5
          // Its own process group, so that what it started (git, chezmoi) can be waited for or killed with it.
          const child = execa(NODE, [FLEET_BIN, 'sync'], {
            env: m.env,
            extendEnv: false,
            reject: false,
            stdin: 'ignore',
            stdout: 'ignore',
            stderr: 'ignore',
            detached: true,
          })
          const pid = child.pid!
          let finished = false
          void child.then(() => (finished = true))
          await sleep(delay)
          let what: string
          if (finished) {
            what = `finished before the kill, exit ${(await child).exitCode}`
          } else if (tree) {
            // Everything at once, the way a service manager stops a control group.
            try {
              process.kill(-pid, 'SIGKILL')
            } catch {}
            what = 'killed (kill -9 of the whole process tree)'
          } else {
            // Only fleet itself; whatever git or chezmoi it started runs to its end.
            child.kill('SIGKILL')
            what = 'killed (kill -9 of fleet; its git/chezmoi children run on)'
          }
          await child
          for (const deadline = Date.now() + 60_000; groupAlive(pid) && Date.now() < deadline;) await sleep(50)
          if (groupAlive(pid)) {
            try {
              process.kill(-pid, 'SIGKILL')
            } catch {}
          }
          syncs++
          log.push(`${prefix} sync killed after ${delay} ms: ${what} forge=${await forgeHead()}`)
          break
        }

        case 'sync-forge-down': {
          renameSync(forge.path, `${forge.path}.down`)
          let run: SyncRun
          try {
            run = await m.sync({exit: 'any'})
          } finally {
            renameSync(`${forge.path}.down`, forge.path)
          }
          syncs++
          log.push(`${prefix} sync with the forge down -> exit ${run.exitCode} ${describeSync(run)}`)
          if (run.exitCode !== 3 && !failure) {
            failure = `${prefix}: fleet sync on ${name} with the forge down exited ${run.exitCode}, not 3`
            failureOutput = `--- stdout\n${tail(run.stdout, 40)}\n--- stderr\n${tail(run.stderr)}`
          }
          break
        }
      }
      if (!failure && op.startsWith('sync')) {
        const violations = await forgeHistory()
        if (violations.length > 0) {
          failure = `${prefix}: the forge's main went back to an older version: ${violations[0]}`
          log.push(`${prefix}   ^ the forge's main went back: ${violations.join('; ')}`)
        }
      }
      if (!failure) clean = step
    }

    // Settle: every machine syncs in turn, a few rounds; the last round must be all 0.
    log.push('--- settle')
    for (let round = 1; round <= SETTLE_ROUNDS; round++) {
      for (const name of NAMES) {
        const run = await machines[name].sync({exit: 'any'})
        syncs++
        log.push(`settle ${round} ${name.padEnd(5)} sync -> exit ${run.exitCode} ${describeSync(run)} forge=${await forgeHead()}`)
        const allowed = round === SETTLE_ROUNDS ? [0] : [0, 3]
        if (!allowed.includes(run.exitCode) && !failure) {
          failure = `settle round ${round}: fleet sync on ${name} exited ${run.exitCode}`
          failureOutput = `--- stdout\n${tail(run.stdout, 40)}\n--- stderr\n${tail(run.stderr)}`
        }
      }
    }

    // What every machine holds, against the model.
    const diffs: string[] = []
    for (const name of NAMES) {
      const m = machines[name]
      for (const file of [SHARED, SECRET] as const) {
        diffs.push(...diffSlots(`${name} ~/${file}`, m.exists(file) ? m.read(file) : undefined, expected[file]))
      }
      if (!m.exists(`${RND}/README`) || m.read(`${RND}/README`) !== RND_README) diffs.push(`${name} ~/${RND}/README: changed or missing`)
      for (const [key, token] of files) {
        const relative = `${RND}/${key}`
        const have = m.exists(relative) ? m.read(relative) : undefined
        if (token === 'deleted' && have !== undefined) diffs.push(`${name} ~/${relative}: want deleted, have ${JSON.stringify(have)}`)
        if (token !== 'deleted' && have !== `v = ${token}\n`)
          diffs.push(`${name} ~/${relative}: want ${token}, have ${have === undefined ? '(missing)' : JSON.stringify(have)}`)
      }
      const onDisk = m.exists(RND) ? readdirSync(m.path(RND)) : []
      for (const entry of onDisk) if (entry !== 'README' && !files.has(entry)) diffs.push(`${name} ~/${RND}/${entry}: not in the model`)
      const status = await m.status({exit: 'any'})
      try {
        const report = status.result
        if (report.conflicts.length > 0) diffs.push(`${name} fleet status: conflicts ${report.conflicts.map((c) => c.path).join(', ')}`)
        if (report.pendingCaptures.length > 0) diffs.push(`${name} fleet status: edits waiting ${report.pendingCaptures.join(', ')}`)
      } catch {
        diffs.push(`${name} fleet status --json exited ${status.exitCode}: ${tail(status.stdout + status.stderr, 3)}`)
      }
    }
    diffs.push(...diffSlots(`forge ${SHARED_SOURCE}`, await forge.show(SHARED_SOURCE), expected[SHARED]))

    const history = await forgeHistory()

    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    console.log(
      `      edit-random: seed ${SEED}: ${clean}/${STEPS} steps ran clean, ${syncs} syncs, ${seen.size} commits on the forge, ${diffs.length} difference(s), ${history.length} history violation(s), ${seconds} s${secretNote ? `\n      ${secretNote}` : ''}`,
    )

    if (failure || diffs.length > 0 || history.length > 0) {
      const message = [
        `edit-random failed — seed ${SEED}, ${STEPS} steps, ${clean} ran clean${failure ? ' before the first failure' : ''}`,
        `replay: FLEET_RANDOM_SEED=${SEED} FLEET_RANDOM_STEPS=${STEPS}${WITHOUT.size > 0 ? ` FLEET_RANDOM_WITHOUT=${[...WITHOUT].join(',')}` : ''} npx mocha test/scenario/edit-random.test.ts (kill timing may differ)`,
        failure ? `first failure: ${failure}` : 'every sync exited as expected, but edits were lost',
        '--- step log',
        ...log,
        `--- differences after settling (${diffs.length})`,
        ...diffs,
        `--- history of the forge's main (${history.length} violation(s))`,
        ...history,
        ...(secretNote ? [secretNote] : []),
        ...(failureOutput ? ['--- output of the failing command', failureOutput] : []),
      ].join('\n')
      assert.fail(message)
    }
  })
})
