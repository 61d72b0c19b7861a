// Heartbeats and the fleet-wide view: every machine publishes a heartbeat at its syncs, at a ref of its own on the
// forge (no commit on the branch), and `fleet status --fleet` / `fleet doctor --fleet` show every machine from any one.
import assert from 'node:assert/strict'
import {chmodSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'
import {parseDocument} from 'yaml'

import type {FleetMachineView, FleetView} from '../../src/lib/status/fleet-view.ts'
import type {Forge} from '../support/forge.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'

/** The fleet-wide view as `machine` sees it (`fleet status --fleet --json`). */
async function fleetView(machine: Machine, exit = 0): Promise<FleetView> {
  return (await machine.fleetStatus({exit})).result
}

function viewOf(view: FleetView, name: string): FleetMachineView {
  const found = view.machines.find((m) => m.name === name)
  assert.ok(found, `${name} is in the view: ${JSON.stringify(view)}`)
  return found
}

/** The heartbeat refs on the forge, ref → commit. */
async function heartbeatRefs(forge: Forge): Promise<Map<string, string>> {
  const listed = await forge.git(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/fleet/'])
  return new Map(
    listed
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  )
}

/** What the forge's branch is: how many commits, and its tree. */
async function branchShape(forge: Forge): Promise<{count: string; tree: string}> {
  return {count: await forge.git(['rev-list', '--count', 'main']), tree: await forge.git(['rev-parse', 'main^{tree}'])}
}

/** Set how long a machine may go without a heartbeat before it is stale, in the manifest, and share it. */
async function setStaleAfter(machine: Machine, seconds: number): Promise<void> {
  const document = parseDocument(readFileSync(machine.manifestFile, 'utf8'))
  document.setIn(['fleet', 'settings', 'heartbeat', 'staleAfterSeconds'], seconds)
  writeFileSync(machine.manifestFile, document.toString())
  await machine.sync()
}

/** `fleet doctor --check sync.heartbeat` on `machine`: its one result. */
async function heartbeatCheck(machine: Machine): Promise<Array<{status: string; message: string; fix?: string}>> {
  return ((await machine.doctor({check: 'sync.heartbeat'})).result as unknown as {checks: Array<{status: string; message: string; fix?: string}>}).checks
}

/** How long a machine may go without a heartbeat here before it is stale: short, so that the story need not wait an hour. */
const STALE_AFTER_SECONDS = 6

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Put `text` at the forge as `machine`'s heartbeat, as a machine with a bug (or a bad actor) could. */
async function forgeHeartbeat(forge: Forge, machine: string, text: string): Promise<void> {
  const bare = ['--git-dir', forge.path]
  const blob = (await execa('git', [...bare, 'hash-object', '-w', '--stdin'], {input: text})).stdout
  const tree = (await execa('git', [...bare, 'mktree'], {input: `100644 blob ${blob}\theartbeat.json\n`})).stdout
  const env = {GIT_AUTHOR_NAME: 'x', GIT_AUTHOR_EMAIL: 'x@x', GIT_COMMITTER_NAME: 'x', GIT_COMMITTER_EMAIL: 'x@x'}
  const commit = (await execa('git', [...bare, 'commit-tree', tree, '-m', 'bad'], {env})).stdout
  await forge.git(['update-ref', `refs/fleet/heartbeat/${machine}`, commit])
}

/** A hook of the forge's, for the length of `body`. */
async function withHook(forge: Forge, name: string, script: string, body: () => Promise<void>): Promise<void> {
  const hook = join(forge.path, 'hooks', name)
  writeFileSync(hook, script)
  chmodSync(hook, 0o755)
  try {
    await body()
  } finally {
    rmSync(hook)
  }
}

describe('heartbeats on a bare forge: the fleet-wide view from any machine', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  let gamma: Machine

  before(async function () {
    fleet = await TestFleet.start('heartbeat', {machines: ['alpha', 'beta', 'gamma']})
    ;({
      forge,
      machines: [alpha, beta, gamma],
    } = fleet)
  })
  after(() => fleet?.remove())

  it('after their syncs, status --fleet from any machine shows all three: seen, last sync ok, on the current key, able to decrypt', async function () {
    alpha.write('.bashrc', 'alias ll="ls -l"\n')
    await alpha.addPath('.bashrc')
    for (const m of [beta, gamma, alpha]) await m.sync()
    for (const looking of [gamma, beta]) {
      const view = await fleetView(looking)
      assert.equal(view.fetched, true)
      for (const name of ['alpha', 'beta', 'gamma']) {
        const m = viewOf(view, name)
        assert.equal(m.seen, 'fresh', `${name} as ${looking.name} sees it: ${JSON.stringify(m)}`)
        assert.equal(m.lastSync?.outcome, 'ok')
        assert.equal(m.onCurrentKey, true, JSON.stringify(m))
        assert.equal(m.canDecrypt, true, JSON.stringify(m))
        assert.deepEqual(m.conflicts, [])
        assert.deepEqual(
          m.agents.map((a) => a.id),
          ['watcher', 'puller'],
        )
      }
    }

    const text = await beta.fleetStatus({json: false})
    for (const name of ['alpha', 'beta', 'gamma'])
      assert.match(text.stdout, new RegExp(`^${name}\\b.*\\bactive\\b.*\\bago\\b.*\\bok\\b.*\\bcurrent\\b.*\\byes\\b`, 'm'))
  })

  it('a clone of the forge does not fetch the heartbeats', async function () {
    assert.equal((await heartbeatRefs(forge)).size, 3, 'the forge holds one heartbeat ref per machine')
    const clone = join(fleet.root, 'plain-clone')
    await execa('git', ['clone', '--quiet', forge.url, clone])
    await execa('git', ['-C', clone, 'fetch', '--quiet', 'origin'])
    assert.equal((await execa('git', ['-C', clone, 'for-each-ref', 'refs/fleet/'])).stdout, '')
    assert.doesNotMatch((await execa('git', ['-C', clone, 'log', '--all', '--format=%s'])).stdout, /heartbeat/)
  })

  it("an idle fleet's syncs add no commit and leave the branch's tree as it was, while the heartbeat refs move", async function () {
    // Within the refresh interval (a quarter of an hour by default) an idle sync publishes nothing…
    const unchanged = await heartbeatRefs(forge)
    assert.equal((await beta.sync()).result.outcome, 'quick')
    assert.equal((await heartbeatRefs(forge)).get('refs/fleet/heartbeat/beta'), unchanged.get('refs/fleet/heartbeat/beta'))
    // …and past it, it refreshes the heartbeat alone.
    await setStaleAfter(alpha, STALE_AFTER_SECONDS) // refreshed every 1.5 s
    for (const m of [beta, gamma]) await m.sync()
    const before = await branchShape(forge)
    const refsBefore = await heartbeatRefs(forge)
    await sleep(1600)
    for (const m of [alpha, beta, gamma]) assert.equal((await m.sync()).result.outcome, 'quick')
    assert.deepEqual(await branchShape(forge), before, "the branch's commits and tree are the same")
    const refsAfter = await heartbeatRefs(forge)
    for (const name of ['alpha', 'beta', 'gamma']) {
      const ref = `refs/fleet/heartbeat/${name}`
      assert.notEqual(refsAfter.get(ref), refsBefore.get(ref), `${name}'s heartbeat was refreshed`)
      assert.equal(await forge.git(['rev-list', '--count', ref]), '1', 'a heartbeat is one commit without a parent')
      assert.deepEqual(await forge.files(ref), ['heartbeat.json'])
    }
  })

  it('a forge that refuses refs/fleet/*: the sync still succeeds, and doctor sync.heartbeat warns with the reason', async function () {
    const hook = join(forge.path, 'hooks', 'update')
    writeFileSync(hook, '#!/bin/sh\ncase "$1" in refs/fleet/*) echo "refs/fleet is not allowed here" >&2; exit 1;; esac\nexit 0\n')
    chmodSync(hook, 0o755)
    try {
      const before = await forge.head()
      alpha.edit('.bashrc', (text) => `${text}export EDITOR=vi\n`)
      const synced = await alpha.sync()
      assert.equal(synced.result.outcome, 'ok')
      assert.notEqual(await forge.head(), before, 'the branch push went through beside the refused heartbeat')
      const [check] = await heartbeatCheck(alpha)
      assert.equal(check.status, 'warn', JSON.stringify(check))
      assert.match(check.message, /refused.*hook declined/)
      assert.match(check.message, /status --fleet/)
      assert.match(check.fix ?? '', /refs\/fleet\/heartbeat/)
    } finally {
      rmSync(hook)
    }
    await alpha.sync()
    const [check] = await heartbeatCheck(alpha)
    assert.equal(check.status, 'ok', 'the next sync published it: the warning is gone')
  })

  it('a pre-receive hook that refuses refs/fleet/* (all or nothing): the branch goes alone at once, the heartbeat is said refused', async function () {
    const refuseFleetRefs = '#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/fleet/*) echo "no refs/fleet here" >&2; exit 1;; esac; done\nexit 0\n'
    await withHook(forge, 'pre-receive', refuseFleetRefs, async () => {
      const before = await forge.head()
      alpha.edit('.bashrc', (text) => `${text}export PAGER=less\n`)
      const synced = await alpha.sync()
      assert.equal(synced.result.outcome, 'ok', JSON.stringify(synced.result))
      assert.notEqual(await forge.head(), before, 'the branch went through on its own')
      const [check] = await heartbeatCheck(alpha)
      assert.equal(check.status, 'warn', JSON.stringify(check))
      assert.match(check.message, /refused .*ago: .*pre-receive hook declined/)
      assert.equal((await alpha.sync()).result.outcome, 'quick', 'a sync with nothing to push is not failed by the refusal either')
    })
    // A forge that declines the branch itself: said so, never taken for other machines pushing.
    await withHook(forge, 'pre-receive', '#!/bin/sh\necho "main is protected" >&2\nexit 1\n', async () => {
      alpha.edit('.bashrc', (text) => `${text}# protected\n`)
      const refused = await alpha.sync({exit: 'any'})
      assert.equal(refused.result.failure?.code, 'PUSH_REFUSED', JSON.stringify(refused.result))
      assert.match(refused.result.error ?? '', /refused this machine's push to main: .*pre-receive hook declined/)
      assert.doesNotMatch(refused.result.error ?? '', /other machines/)
    })
    await alpha.sync()
    const [check] = await heartbeatCheck(alpha)
    assert.equal(check.status, 'ok')
    assert.match(check.message, /^Heartbeat published \d+ s ago\.$/)
  })

  it('a rejected branch push (another machine pushed first) still publishes the heartbeat', async function () {
    await gamma.sync() // alpha's edit of .bashrc comes in first: gamma's own edit then merges cleanly
    beta.write('.profile', 'umask 022\n')
    await beta.addPath('.profile')
    const before = (await heartbeatRefs(forge)).get('refs/fleet/heartbeat/gamma')
    gamma.edit('.bashrc', (text) => `${text}# gamma\n`)
    const synced = await gamma.sync()
    assert.ok(synced.result.received > 0, 'the first push was rejected: beta had pushed, and its commits came in')
    assert.notEqual((await heartbeatRefs(forge)).get('refs/fleet/heartbeat/gamma'), before)
  })

  it('a machine that stopped syncing is shown stale; doctor --fleet fails naming it', async function () {
    await gamma.sync()
    await sleep(STALE_AFTER_SECONDS * 1000 + 200) // gamma's heartbeat is now older than staleAfterSeconds
    await alpha.doctor({exit: 'any'}) // its summary goes into alpha's next heartbeat
    await Promise.all([alpha.sync(), beta.sync()])
    const view = await fleetView(alpha)
    const doctor = viewOf(view, 'alpha').doctor
    assert.ok(doctor && Object.values(doctor.counts).reduce((a, b) => a + b) > 0, `alpha's last doctor run is in its heartbeat: ${JSON.stringify(doctor)}`)
    assert.equal(viewOf(view, 'gamma').seen, 'stale')
    assert.equal(viewOf(view, 'alpha').seen, 'fresh')
    assert.equal(viewOf(view, 'beta').seen, 'fresh')
    const text = await alpha.fleetStatus({json: false})
    assert.match(text.stdout, /^gamma\b.*\(stale\)/m)

    // The calls above take seconds on a busy machine: beta publishes again, so that only gamma's silence is judged.
    await beta.sync()
    const fleetDoctor = await alpha.doctor({fleet: true, exit: 1})
    const problems = (fleetDoctor.result as unknown as {problems?: string[]}).problems ?? []
    assert.ok(
      problems.some((p) => /^gamma: not seen for/.test(p)),
      JSON.stringify(problems),
    )
    assert.ok(!problems.some((p) => p.startsWith('beta:')), `beta is healthy: ${JSON.stringify(problems)}`)
  })

  it('a heartbeat another machine wrote badly is shown unreadable; the view still shows everyone', async function () {
    await forgeHeartbeat(forge, 'gamma', '{"schema": 1, "machine": "gamma"')
    const view = await fleetView(beta)
    assert.equal(viewOf(view, 'gamma').seen, 'unreadable')
    assert.match(viewOf(view, 'gamma').problem ?? '', /not JSON/)
    assert.equal(viewOf(view, 'alpha').lastSync?.outcome, 'ok')
    const warnings = ((await beta.doctor({fleet: true, exit: 'any'})).result as unknown as {warnings?: string[]}).warnings ?? []
    assert.ok(
      warnings.some((w) => /^gamma: its heartbeat cannot be read \(not JSON\)/.test(w)),
      `doctor --fleet lists it: ${JSON.stringify(warnings)}`,
    )
  })

  it("another machine's heartbeat cannot drive this terminal, flood it, or pass a clock ahead for fresh; its conflicts fail doctor --fleet", async function () {
    const hostile = {
      schema: 1,
      machine: 'gamma',
      at: new Date(Date.now() + 3 * 3_600_000).toISOString(),
      fleetVersion: '1.0.0',
      lastSync: {at: new Date().toISOString(), outcome: 'error', error: `\u001b[2J\u001b[Hwiped ${'y'.repeat(300)}`},
      keyRotation: 'none',
      canDecrypt: true,
      conflicts: ['.bashrc\u001b[31m', '.a', '.b', '.c', '.d'],
      agents: [],
    }
    await forgeHeartbeat(forge, 'gamma', JSON.stringify(hostile))
    await Promise.all([alpha.sync(), beta.sync()])
    const text = await beta.fleetStatus({json: false})
    assert.ok(!text.stdout.includes('\u001b'), 'no escape sequence reaches the terminal')
    for (const line of text.stdout.split('\n')) assert.ok(line.length <= 240, `a line of at most a screen's width: ${line.length}`)
    assert.match(text.stdout, /^gamma\b.*\bclock ahead\b/m)
    assert.match(text.stdout, /^gamma: conflicts: \.bashrc\[31m, \.a, \.b and 2 more$/m)
    assert.equal(viewOf(await fleetView(beta), 'gamma').seen, 'ahead')

    const doctor = await beta.doctor({fleet: true, exit: 1})
    const {problems, warnings} = doctor.result as unknown as {problems: string[]; warnings: string[]}
    assert.ok(
      problems.some((p) => /^gamma: .*5 conflicts waiting for a person/.test(p)),
      JSON.stringify(problems),
    )
    assert.ok(
      warnings.some((w) => /^gamma: .*clock is ahead/.test(w)),
      JSON.stringify(warnings),
    )
    await alpha.sync() // fresh again however long the calls above took: this case is about gamma
    const doctorText = await beta.doctor({fleet: true, json: false, exit: 1})
    assert.match(doctorText.stdout, /^Something is wrong on 1 machine\.$/m)
    assert.equal(doctorText.stdout.match(/wiped/g)?.length, 1, 'the sync error is said once')
    assert.doesNotMatch(doctorText.stdout, /\(s\)|\b1 warnings|\.;/)
  })

  it('the forge unreachable from a machine that never fetched: the others unknown, its own row from its own state, exit 3', async function () {
    const url = await execa('git', ['-C', beta.sourceDir, 'remote', 'get-url', 'origin'])
    await execa('git', ['-C', beta.sourceDir, 'remote', 'set-url', 'origin', join(fleet.root, 'gone.git')])
    try {
      rmSync(join(beta.locations.stateDir, 'heartbeats-fetched.json'), {force: true})
      const refs = (await execa('git', ['-C', beta.sourceDir, 'for-each-ref', '--format=%(refname)', 'refs/fleet/'])).stdout.split('\n').filter(Boolean)
      for (const ref of refs) await execa('git', ['-C', beta.sourceDir, 'update-ref', '-d', ref])
      const doctor = (await beta.doctor({exit: 'any'})).result as unknown as {at: string}
      const view = await fleetView(beta, 3)
      assert.equal(view.fetched, false)
      assert.equal(viewOf(view, 'alpha').seen, 'unknown')
      assert.equal(viewOf(view, 'beta').seen, 'fresh')
      assert.equal(viewOf(view, 'beta').doctor?.at, doctor.at, "beta's row tells its doctor run of just now")
      const text = await beta.fleetStatus({json: false, exit: 3})
      assert.match(text.stdout, /^alpha\b.*unknown \(never fetched\)/m)
      assert.match(text.stdout, /never fetched the heartbeats/)
      const fleetDoctor = await beta.doctor({fleet: true, json: false, exit: 3})
      assert.match(fleetDoctor.stdout, /as of the heartbeats last fetched/)
    } finally {
      await execa('git', ['-C', beta.sourceDir, 'remote', 'set-url', 'origin', url.stdout])
    }
  })

  it('no secret value reaches a heartbeat', async function () {
    const value = 'hb-secret-value-4f1c9a'
    await alpha.secrets(['set', 'HEARTBEAT_TOKEN'], {input: value})
    await sleep(1600)
    for (const m of [alpha, beta]) await m.sync()
    const refs = await heartbeatRefs(forge)
    for (const commit of refs.values()) {
      const text = await forge.git(['show', `${commit}:heartbeat.json`])
      assert.doesNotMatch(text, new RegExp(value))
      assert.doesNotMatch(text, /HEARTBEAT_TOKEN/)
    }
  })

  it('a revoked machine publishes nothing more, and is shown revoked, not on the current key', async function () {
    await alpha.revoke('gamma')
    const before = (await heartbeatRefs(forge)).get('refs/fleet/heartbeat/gamma')
    await sleep(1600) // past the refresh interval: a machine still in the fleet would publish
    await gamma.sync({exit: 'any'})
    assert.equal((await heartbeatRefs(forge)).get('refs/fleet/heartbeat/gamma'), before)
    await beta.sync()
    const text = await beta.fleetStatus({json: false})
    assert.match(text.stdout, /^gamma\b.*\brevoked\b.*\brevoked\b.*\bno \(revoked\)/m)
    const problems = ((await beta.doctor({fleet: true, exit: 'any'})).result as unknown as {problems: string[]}).problems
    assert.ok(!problems.some((p) => p.startsWith('gamma:')), JSON.stringify(problems))
  })

  it('a usage error under --json is a short JSON error with exit 2, not the whole configuration', async function () {
    for (const args of [
      ['doctor', '--fleet', '--fix', '--json'],
      ['status', '--bogus', '--json'],
    ]) {
      const run = await beta.fleet(args)
      assert.equal(run.exitCode, 2, run.stdout)
      const {error} = JSON.parse(run.stdout) as {error: {code: string; message: string; exitCode: number}}
      assert.equal(error.code, 'USAGE')
      assert.equal(error.exitCode, 2)
      assert.ok(run.stdout.split('\n').length < 12, `compact: ${run.stdout.split('\n').length} lines`)
    }
  })
})

describe('heartbeats over ssh://', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine

  before(async function () {
    fleet = await TestFleet.start('heartbeat-ssh', {ssh: true, machines: ['alpha']})
    ;({
      forge,
      machines: [alpha],
    } = fleet)
  })
  after(() => fleet?.remove())

  it('publishes and fetches over ssh, and idle syncs add no commit', async function () {
    await alpha.sync()
    const seen = viewOf(await fleetView(alpha), 'alpha')
    assert.equal(seen.seen, 'fresh')
    assert.equal(seen.lastSync?.outcome, 'ok')
    assert.equal(await forge.git(['rev-list', '--count', 'refs/fleet/heartbeat/alpha']), '1')
    const before = await branchShape(forge)
    assert.equal((await alpha.sync()).result.outcome, 'quick')
    assert.deepEqual(await branchShape(forge), before)
  })

  it('a forge that does not answer: the heartbeats last fetched, said to be maybe old, exit 3', async function () {
    await fleet.sshd!.stop()
    const run = await alpha.fleetStatus({json: false, exit: 3})
    assert.match(run.stdout, /^alpha \*\s+active\b.*\bok\b/m)
    assert.match(run.stdout, /heartbeats last fetched \d+ s ago, and may be old/)
    await alpha.doctor({fleet: true, exit: 3})
  })
})
