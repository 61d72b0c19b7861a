// The puller's turn ends before the CLI loads when a sync ended well since its last turn (the watcher's sweep).
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {fleetPaths} from '../../src/lib/platform/paths.ts'
import {describeSkippedTurn, pullerTurn} from '../../src/lib/runners/puller-gate.ts'
import {statePaths, type SyncState} from '../../src/lib/sync/state.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('puller gate: a turn with nothing to do ends before the CLI loads', function () {
  let home: string
  let env: NodeJS.ProcessEnv
  let files: ReturnType<typeof statePaths>
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, seconds))
  const synced = (seconds: number, outcome = 'quick', more: Partial<SyncState> = {}, reason = 'watcher-sweep') =>
    writeFileSync(
      files.state,
      JSON.stringify({
        conflicts: [],
        lastSync: {at: at(seconds).toISOString(), reason, outcome, durationMs: 30, captured: [], received: 0, pushed: 0, applied: []},
        ...more,
      }),
    )

  beforeEach(() => {
    home = makeTempDir('puller-gate')
    env = {HOME: home}
    files = statePaths(fleetPaths(env))
  })
  afterEach(() => removeTempDir(home))

  it('a machine that never synced: the turn runs, and nothing is written', function () {
    assert.deepEqual(pullerTurn(env, at(0)), {skip: false})
    assert.ok(!existsSync(fleetPaths(env).stateDir))
  })

  it('runs the first turn; skips the next when a sync ended well since, and says which; runs again when none did', function () {
    mkdirSync(fleetPaths(env).stateDir, {recursive: true})
    synced(0)
    assert.equal(pullerTurn(env, at(10)).skip, false, 'no turn recorded before: this one syncs')
    synced(200)
    const second = pullerTurn(env, at(310))
    assert.deepEqual(second, {skip: true, since: {at: at(200).toISOString(), reason: 'watcher-sweep'}})
    assert.equal(describeSkippedTurn(second, at(310)), "Nothing to do: a sync (watcher-sweep) ran 110 s ago, since the puller's last turn.")
    assert.equal(pullerTurn(env, at(610)).skip, false, 'no sync since the last turn: the watcher may be gone')
    assert.deepEqual(JSON.parse(readFileSync(join(fleetPaths(env).stateDir, 'puller.json'), 'utf8')), {at: at(610).toISOString(), skipped: false})
  })

  it("the puller's own sync does not count: with the watcher gone, every turn syncs", function () {
    mkdirSync(fleetPaths(env).stateDir, {recursive: true})
    for (let turn = 0; turn < 3; turn++) {
      assert.equal(pullerTurn(env, at(300 * turn)).skip, false, `turn ${turn}`)
      synced(300 * turn + 1, 'quick', {}, turn === 1 ? 'timer (again)' : 'timer')
    }
  })

  it('runs when the sync since did not end well, one is running or due again, or a conflict waits', function () {
    mkdirSync(fleetPaths(env).stateDir, {recursive: true})
    const cases: Array<[string, () => void]> = [
      ['offline', () => synced(100, 'offline')],
      ['error', () => synced(100, 'error')],
      ['running', () => synced(100, 'ok', {running: {at: at(150).toISOString(), reason: 'watcher', pid: 1}})],
      [
        'conflict',
        () => synced(100, 'ok', {conflicts: [{path: '.x', sourcePath: 'dot_x', parkedBranch: 'p', mine: 'a', theirs: 'b', at: at(90).toISOString()}]}),
      ],
      [
        'again',
        () => {
          synced(100)
          writeFileSync(files.again, at(150).toISOString())
        },
      ],
    ]
    for (const [what, arrange] of cases) {
      pullerTurn(env, at(50))
      arrange()
      assert.equal(pullerTurn(env, at(200)).skip, false, what)
    }
  })
})
