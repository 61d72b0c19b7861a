// The heartbeat's format, checked on every read, and the push that carries it beside the branch.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {GitRepo, parsePushPorcelain} from '../../src/lib/git/git.ts'
import {
  buildHeartbeat,
  heartbeatContent,
  heartbeatDue,
  heartbeatRef,
  heartbeatRefspec,
  parseHeartbeat,
  readHeartbeats,
} from '../../src/lib/heartbeat/heartbeat.ts'
import type {Machine} from '../../src/lib/manifest/schema.ts'
import {describeFleetView, type FleetView, fleetFindings, machineView} from '../../src/lib/status/fleet-view.ts'
import {Forge} from '../support/forge.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const facts = {
  machine: 'alpha',
  lastSync: {
    at: '2026-01-02T03:04:05.000Z',
    outcome: 'error',
    error: 'The forge https://ann:tok3n@example.org/x.git cannot be reached\n  more',
    code: 'DECRYPT_FAILED',
  },
  recipient: 'age1example',
  keyRotation: 'none',
  conflicts: ['.zshrc', '.bashrc'],
  agents: [{id: 'watcher', installed: true}],
}

describe('heartbeat', function () {
  it('keeps the first line of an error, without credentials, and says a machine that failed to decrypt cannot', function () {
    const heartbeat = buildHeartbeat(facts, new Date('2026-01-02T03:05:00.000Z'))
    assert.equal(heartbeat.lastSync?.error, 'The forge https://ann:***@example.org/x.git cannot be reached')
    assert.equal(heartbeat.canDecrypt, false)
    assert.deepEqual(heartbeat.conflicts, ['.bashrc', '.zshrc'])
    assert.equal(buildHeartbeat({...facts, lastSync: {at: facts.lastSync.at, outcome: 'quick'}}).canDecrypt, true)
    assert.equal(buildHeartbeat({...facts, lastSync: undefined, identityProblem: 'KEY_NOT_IN_ROSTER'}).canDecrypt, false)
  })

  it('reads back what it wrote, and says what is wrong with a malformed one instead of throwing', function () {
    const heartbeat = buildHeartbeat(facts)
    assert.deepEqual(parseHeartbeat(JSON.stringify(heartbeat)), {heartbeat})
    assert.deepEqual(parseHeartbeat('{"schema": 1'), {problem: 'not JSON'})
    assert.match((parseHeartbeat('[]') as {problem: string}).problem, /expected object/)
    assert.match((parseHeartbeat(JSON.stringify({...heartbeat, at: 'yesterday'})) as {problem: string}).problem, /^at: /)
    assert.match((parseHeartbeat(JSON.stringify({...heartbeat, conflicts: 'none'})) as {problem: string}).problem, /^conflicts: /)
    assert.match((parseHeartbeat(JSON.stringify({...heartbeat, schema: 99})) as {problem: string}).problem, /newer fleet/)
  })

  it('is due when what it says changed, when the last one was refused, or when it is getting old; not for a new time alone', function () {
    const first = buildHeartbeat({...facts, lastSync: {at: '2026-01-02T03:04:05.000Z', outcome: 'ok'}}, new Date('2026-01-02T03:05:00.000Z'))
    const record = {publishedAt: first.at, content: heartbeatContent(first)}
    const later = (minutes: number, change: Partial<typeof facts> = {}) =>
      buildHeartbeat(
        {...facts, lastSync: {at: new Date(Date.parse(first.at) + minutes * 60_000).toISOString(), outcome: 'quick'}, ...change},
        new Date(Date.parse(first.at) + minutes * 60_000),
      )
    const refreshMs = 15 * 60_000
    assert.equal(heartbeatDue(record, later(1), refreshMs), false, 'an idle sync a minute later publishes nothing')
    assert.equal(heartbeatDue(record, later(15), refreshMs), true)
    assert.equal(heartbeatDue(record, later(1, {conflicts: ['.vimrc']}), refreshMs), true)
    assert.equal(heartbeatDue({...record, refused: {at: first.at, reason: 'x'}}, later(1), refreshMs), true)
    assert.equal(heartbeatDue(undefined, later(1), refreshMs), true)
  })

  it('publishes the home directory as ~, so that other machines never learn where this one keeps things', function () {
    const error = 'Cannot read /tmp/rev12/alpha/.config/fleet/x: permission denied (in /tmp/rev12/alpha)'
    const heartbeat = buildHeartbeat({...facts, home: '/tmp/rev12/alpha', lastSync: {...facts.lastSync, error}})
    assert.equal(heartbeat.lastSync?.error, 'Cannot read ~/.config/fleet/x: permission denied (in ~)')
  })

  it("reads another machine's text as one short printable line: no escape sequence, no second line, no 300 characters", function () {
    const heartbeat = buildHeartbeat(facts)
    const hostile = {
      ...heartbeat,
      lastSync: {...heartbeat.lastSync!, error: `\u001b[2J\u001b]0;owned\u0007wiped${'x'.repeat(300)}\nsecond line`},
      conflicts: ['.bashrc\u001b[31m', ...Array.from({length: 500}, (_, i) => `f${i}`)],
      fleetVersion: '1.0\u009b2J',
    }
    const read = parseHeartbeat(JSON.stringify(hostile)) as {heartbeat: typeof heartbeat}
    const text = JSON.stringify(read.heartbeat)
    assert.doesNotMatch(text, /\\u001b|\\u0007|\\u009b/, text.slice(0, 300))
    assert.ok(read.heartbeat.lastSync!.error!.length <= 160, read.heartbeat.lastSync!.error)
    assert.match(read.heartbeat.lastSync!.error!, /^\[2J\]0;ownedwipedx+…$/)
    assert.equal(read.heartbeat.conflicts[0], '.bashrc[31m')
    assert.ok(read.heartbeat.conflicts.length <= 100)
    assert.equal(read.heartbeat.fleetVersion, '1.02J')
  })

  describe('the fleet-wide view', function () {
    const now = new Date('2026-03-01T12:00:00.000Z')
    const minutesAgo = (n: number) => new Date(now.getTime() - n * 60_000).toISOString()
    const roster = (name: string, state: Machine['state'] = 'active'): Machine => ({
      name,
      hostname: name,
      os: 'linux',
      recipient: 'age1example',
      state,
      enrolledAt: minutesAgo(10_000),
      updatedAt: minutesAgo(10_000),
    })
    const published = (machine: string, minutes: number, change: Partial<Parameters<typeof buildHeartbeat>[0]> = {}) => ({
      machine,
      heartbeat: buildHeartbeat(
        {...facts, machine, identityProblem: undefined, lastSync: {at: minutesAgo(minutes), outcome: 'ok'}, ...change},
        new Date(minutesAgo(minutes)),
      ),
    })
    const context = {staleAfterMs: 3_600_000, now, everFetched: true}
    const view = (machines: FleetView['machines']): FleetView => ({machine: 'alpha', at: now.toISOString(), staleAfterSeconds: 3600, fetched: true, machines})

    it('shows a pending machine as not decrypting yet and a revoked one as revoked, whatever their heartbeats say', function () {
      const pending = machineView(roster('delta', 'pending'), published('delta', 1), context)
      const revoked = machineView(roster('eps', 'revoked'), published('eps', 1), context)
      assert.equal(pending.canDecrypt, false)
      assert.equal(revoked.canDecrypt, false)
      assert.equal(revoked.onCurrentKey, undefined)
      const {rows} = describeFleetView(view([pending, revoked]))
      assert.deepEqual(rows[0].slice(4, 6), ['pending', 'not yet (pending)'])
      assert.deepEqual(rows[1].slice(4, 6), ['revoked', 'no (revoked)'])
      assert.deepEqual(fleetFindings(view([revoked])), {problems: [], warnings: []})
    })

    it("takes a heartbeat dated in the future for a clock that is ahead, not for a fresh one; a few minutes' skew is fine", function () {
      const ahead = machineView(roster('gamma'), published('gamma', -180), context)
      assert.equal(ahead.seen, 'ahead')
      assert.match(ahead.problem ?? '', /clock is ahead.*3 h from now/)
      assert.equal(machineView(roster('gamma'), published('gamma', -2), context).seen, 'fresh')
      assert.match(describeFleetView(view([ahead])).rows[0][2], /clock ahead/)
      assert.match(fleetFindings(view([ahead])).warnings[0], /^gamma: .*clock is ahead/)
    })

    it('says a machine is unknown, not never seen, when this machine never fetched the heartbeats', function () {
      assert.equal(machineView(roster('beta'), undefined, {...context, everFetched: false}).seen, 'unknown')
      assert.equal(machineView(roster('beta'), undefined, context).seen, 'never')
      const {rows} = describeFleetView(view([machineView(roster('beta'), undefined, {...context, everFetched: false})]))
      assert.equal(rows[0][2], 'unknown (never fetched)')
    })

    it('lists conflicts and unreadable heartbeats, says an old doctor run is old, in words that read right', function () {
      const conflicted = machineView(
        roster('beta'),
        published('beta', 1, {
          conflicts: ['.a', '.b', '.c', '.d', '.e'],
          lastSync: {at: minutesAgo(1), outcome: 'error', error: 'The forge at ~/x does not use it.'},
          doctor: {at: minutesAgo(2 * 24 * 60), counts: {ok: 3, warn: 0, fail: 1, skip: 0}, failing: ['forge.reachable']},
        }),
        context,
      )
      const healthy = machineView(
        roster('alpha'),
        published('alpha', 1, {conflicts: [], doctor: {at: minutesAgo(1), counts: {ok: 3, warn: 1, fail: 0, skip: 0}, failing: []}}),
        context,
      )
      const unreadable = machineView(roster('gamma'), {machine: 'gamma', problem: 'not JSON'}, context)
      const shown = view([healthy, conflicted, unreadable])
      const {problems, warnings} = fleetFindings(shown)
      assert.deepEqual(problems, [
        'beta: its last sync failed: The forge at ~/x does not use it; 5 conflicts waiting for a person: .a, .b, .c and 2 more; doctor checks failing 2 d ago: forge.reachable',
      ])
      assert.deepEqual(warnings, ['gamma: its heartbeat cannot be read (not JSON)'])
      const {rows, notes} = describeFleetView(shown, {withDoctor: true})
      assert.equal(rows[0][8], 'ok (1 warning)')
      assert.equal(rows[1][8], '2 d ago: failing forge.reachable')
      assert.ok(!notes.some((line) => /does not use it/.test(line)), 'the error is said once, among the problems')
      assert.ok(describeFleetView(shown).notes.some((line) => line === 'beta: conflicts: .a, .b, .c and 2 more'))
    })
  })

  describe('on a bare repository', function () {
    let root: string
    let forge: Forge
    let mine: GitRepo
    let theirs: GitRepo
    before(async function () {
      root = makeTempDir('heartbeat-unit')
      forge = await Forge.create(root)
      for (const name of ['mine', 'theirs']) {
        const repo = new GitRepo(join(root, name))
        await repo.init('main')
        await repo.ensureIdentity(name)
        await repo.setRemote(forge.url)
      }
      mine = new GitRepo(join(root, 'mine'))
      theirs = new GitRepo(join(root, 'theirs'))
      writeFileSync(join(theirs.dir, 'a'), 'theirs\n')
      await theirs.commitAll('theirs')
      assert.equal(await theirs.push('main'), 'pushed')
    })
    after(() => removeTempDir(root))

    it('a rejected branch push still publishes the heartbeat beside it, as a commit without a parent on no branch', async function () {
      writeFileSync(join(mine.dir, 'b'), 'mine\n')
      await mine.commitAll('mine')
      const heartbeat = buildHeartbeat({...facts, machine: 'mine'})
      const refspec = await heartbeatRefspec(mine, heartbeat)
      assert.deepEqual(await mine.status(), [], 'nothing in the work tree or the index')
      const pushed = await mine.pushWith('main', [refspec])
      assert.equal(pushed.branch.outcome, 'rejected')
      assert.deepEqual(pushed.alongside, [{ref: heartbeatRef('mine'), outcome: 'pushed'}])
      assert.equal(await forge.git(['rev-list', '--count', heartbeatRef('mine')]), '1')
      assert.equal(await forge.git(['rev-list', '--count', 'main']), '1', "the forge's branch is theirs alone")

      await theirs.fetchRefs('+refs/fleet/heartbeat/*:refs/fleet/heartbeat/*', 10_000)
      const read = await readHeartbeats(theirs)
      assert.deepEqual(read.get('mine'), {machine: 'mine', heartbeat})
    })

    it('reads how each ref of a push came out from git push --porcelain', function () {
      const out = [
        'To /tmp/forge.git',
        ' \tHEAD:refs/heads/main\t891ebd4..d54820f',
        '!\t1234:refs/fleet/heartbeat/a\t[remote rejected] (hook declined)',
        '=\tHEAD:refs/heads/other\t[up to date]',
        '+\t5678:refs/fleet/heartbeat/b\tab...cd (forced update)',
        'Done',
      ].join('\n')
      assert.deepEqual(parsePushPorcelain(out), [
        {ref: 'refs/heads/main', outcome: 'pushed'},
        {ref: 'refs/fleet/heartbeat/a', outcome: 'rejected', reason: '[remote rejected] (hook declined)'},
        {ref: 'refs/heads/other', outcome: 'up-to-date'},
        {ref: 'refs/fleet/heartbeat/b', outcome: 'pushed'},
      ])
    })
  })
})
