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
      assert.equal(pushed.branch, 'rejected')
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
