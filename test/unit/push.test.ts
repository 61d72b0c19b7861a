// One way to get commits onto the forge, two strategies for a rejected push, each driven against a real bare forge
// (a plain `git init --bare`: its HEAD names master) that another clone pushed to first.
import assert from 'node:assert/strict'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {FleetError} from '../../src/lib/errors/index.ts'
import {clone, GitRepo} from '../../src/lib/git/git.ts'
import {integrate} from '../../src/lib/sync/integrate.ts'
import {MANIFEST_VERSION} from '../../src/lib/manifest/schema.ts'
import {writeManifest} from '../../src/lib/manifest/store.ts'
import {pushToForge, type PushStrategy} from '../../src/lib/sync/push.ts'
import {Forge} from '../support/forge.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const BRANCH = 'main'

/** Nothing from the host's git configuration leaks in; restored after the tests. */
const GIT_ISOLATION = {GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null'}

describe('push: one way onto the forge, two strategies for a rejected push', function () {
  let root: string
  let forge: Forge
  let saved: Record<string, string | undefined>
  let count = 0

  before(function () {
    saved = Object.fromEntries(Object.keys(GIT_ISOLATION).map((k) => [k, process.env[k]]))
    Object.assign(process.env, GIT_ISOLATION)
    root = makeTempDir('push')
  })
  after(function () {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    removeTempDir(root)
  })

  /** A new forge whose main branch holds a readable manifest and `roster` with one line (the clones come from it). */
  beforeEach(async function () {
    forge = await Forge.create(root, `forge-${++count}.git`)
    assert.equal((await forge.git(['symbolic-ref', 'HEAD'])).trim(), 'refs/heads/master')
    const seed = new GitRepo(join(root, `seed-${count}`))
    await seed.init(BRANCH)
    await seed.ensureIdentity('seed')
    await writeManifest(seed.dir, {
      version: MANIFEST_VERSION,
      id: 'f1e2d3c4-b5a6-4789-8abc-def012345678',
      createdAt: '2026-01-02T03:04:05.000Z',
      settings: {
        keyType: 'x25519',
        branch: BRANCH,
        maxFileMiB: 20,
        agents: {pullIntervalSeconds: 120, remoteCheckSeconds: 5, quietCheckSeconds: 10, debounceMs: 1000, maxDelayMs: 8000},
      },
      paths: [],
      machines: [],
      plugins: [],
    })
    writeFileSync(join(seed.dir, 'roster'), 'seed\n')
    await seed.commitAll('roster')
    await seed.setRemote(forge.url)
    assert.equal(await seed.push(BRANCH), 'pushed')
  })

  async function machine(name: string): Promise<GitRepo> {
    const repo = await clone(forge.url, join(root, `${name}-${count}`), BRANCH)
    await repo.ensureIdentity(name)
    return repo
  }

  /** Append a line to the roster and commit it: a generated change, made from the roster as the repo has it. */
  async function addToRoster(repo: GitRepo, line: string): Promise<void> {
    writeFileSync(join(repo.dir, 'roster'), `${readFileSync(join(repo.dir, 'roster'), 'utf8')}${line}\n`)
    await repo.commitAll(`add ${line}`)
  }

  const noRepairs = async () => ({notes: []})

  describe('integrate (a sync)', function () {
    it("a rejected push: the forge's commits are merged, both versions kept where they conflict, and pushed", async function () {
      const [alpha, beta] = [await machine('alpha'), await machine('beta')]
      await addToRoster(alpha, 'alpha')
      assert.equal(await alpha.push(BRANCH), 'pushed')
      // The same line as alpha's (git cannot merge them), and a file of beta's own in the same commit.
      writeFileSync(join(beta.dir, 'notes'), 'beta\n')
      await addToRoster(beta, 'beta')
      let conflicts: string[] = []
      let parked: string | undefined
      const strategy: PushStrategy = {
        kind: 'integrate',
        integrate: async () => {
          const integrated = await integrate(beta, {branch: BRANCH, machine: 'beta', park: () => {}})
          conflicts = integrated.conflicts
          parked = integrated.parkedBranch
        },
      }
      let checks = 0
      const {pushed} = await pushToForge(beta, BRANCH, {strategy, check: async () => (checks++, {notes: []})})

      assert.equal(pushed, 1, 'the merge commit')
      assert.equal(await forge.show('notes'), 'beta\n', 'what merged is on the forge')
      assert.equal(checks, 2, 'the source is checked before each push')
      assert.deepEqual(conflicts, ['roster'])
      assert.equal(await forge.show('roster'), 'seed\nalpha\n', "the forge's version stays in the source")
      assert.equal(await beta.show(parked!, 'roster'), 'seed\nbeta\n', "this machine's version is kept on the parked branch")
      assert.equal(await forge.head(), await beta.revParse('HEAD'))
    })

    it("nothing to push: the forge's commits are brought in all the same", async function () {
      const [alpha, beta] = [await machine('alpha'), await machine('beta')]
      await addToRoster(alpha, 'alpha')
      assert.equal(await alpha.push(BRANCH), 'pushed')
      const strategy: PushStrategy = {kind: 'integrate', integrate: async () => void (await integrate(beta, {branch: BRANCH, machine: 'beta', park: () => {}}))}
      assert.deepEqual(await pushToForge(beta, BRANCH, {strategy, check: noRepairs}), {pushed: 0, parkedBranch: undefined})
      assert.equal(await beta.revParse('HEAD'), await forge.head())
    })
  })

  describe('re-derive (approve, revoke, enroll)', function () {
    it('a rejected push whose change does not rebase: it is parked, made again on top of the forge, and pushed', async function () {
      const [alpha, beta] = [await machine('alpha'), await machine('beta')]
      await addToRoster(alpha, 'alpha')
      assert.equal(await alpha.push(BRANCH), 'pushed')
      await addToRoster(beta, 'beta')
      const before = await beta.revParse('HEAD')
      let derived = 0
      const strategy: PushStrategy = {kind: 're-derive', derive: async () => (derived++, addToRoster(beta, 'beta'))}
      const {pushed, parkedBranch} = await pushToForge(beta, BRANCH, {strategy, check: noRepairs})

      assert.equal(pushed, 1)
      assert.equal(derived, 1)
      assert.equal(await forge.show('roster'), 'seed\nalpha\nbeta\n', "the change made again from the forge's roster")
      assert.equal(await beta.revParse(parkedBranch!), before, 'the first attempt is kept on the parked branch')
      assert.equal(beta.recordedOperation(), undefined, 'nothing is left for recovery to undo')
    })

    it('a rejected push whose change rebases cleanly: rebased and pushed, not made again', async function () {
      const [alpha, beta] = [await machine('alpha'), await machine('beta')]
      writeFileSync(join(alpha.dir, 'other'), 'alpha\n')
      await alpha.commitAll('other')
      assert.equal(await alpha.push(BRANCH), 'pushed')
      await addToRoster(beta, 'beta')
      let derived = 0
      const strategy: PushStrategy = {kind: 're-derive', derive: async () => void derived++}
      assert.deepEqual(await pushToForge(beta, BRANCH, {strategy, check: noRepairs}), {pushed: 1, parkedBranch: undefined})
      assert.equal(derived, 0)
      assert.equal(await forge.show('roster'), 'seed\nbeta\n')
      assert.equal(await forge.show('other'), 'alpha\n')
    })

    it('nothing to push: nothing is fetched', async function () {
      const [alpha, beta] = [await machine('alpha'), await machine('beta')]
      await addToRoster(alpha, 'alpha')
      assert.equal(await alpha.push(BRANCH), 'pushed')
      const behind = await beta.revParse(`origin/${BRANCH}`)
      const strategy: PushStrategy = {kind: 're-derive', derive: async () => assert.fail('nothing to derive')}
      assert.deepEqual(await pushToForge(beta, BRANCH, {strategy, check: noRepairs}), {pushed: 0, parkedBranch: undefined})
      assert.equal(await beta.revParse(`origin/${BRANCH}`), behind)
    })
  })

  it('a forge that declines the push (a hook, a protected branch): PUSH_REFUSED at once with its reason, the local commit kept', async function () {
    const hook = join(forge.path, 'hooks', 'pre-receive')
    writeFileSync(hook, '#!/bin/sh\necho "main is protected" >&2\nexit 1\n', {mode: 0o755})
    try {
      const repo = await machine('m-refused')
      await addToRoster(repo, 'refused')
      const head = await repo.revParse('HEAD')
      let integrated = 0
      const strategy: PushStrategy = {kind: 'integrate', integrate: async () => void integrated++}
      await assert.rejects(pushToForge(repo, BRANCH, {strategy, check: noRepairs}), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'PUSH_REFUSED')
        assert.match(error.message, /^The forge refused this machine's push to main: \[remote rejected\] \(pre-receive hook declined\)\.$/)
        return true
      })
      assert.equal(integrated, 0, 'not taken for other machines pushing: nothing was brought in and tried again')
      assert.equal(await repo.revParse('HEAD'), head)
    } finally {
      rmSync(hook)
    }
  })

  it('a forge that keeps rejecting: PUSH_REJECTED, the same error for either strategy, and the local commit kept', async function () {
    // Another push holds the forge's branch the whole time (its lock): git refuses each push (`failed to update ref`).
    writeFileSync(join(forge.path, 'refs', 'heads', `${BRANCH}.lock`), '')
    const strategies: PushStrategy[] = [
      {kind: 'integrate', integrate: async () => {}},
      {kind: 're-derive', derive: async () => assert.fail('the change rebased: nothing to derive')},
    ]
    for (const strategy of strategies) {
      const repo = await machine(`m-${strategy.kind}`)
      await addToRoster(repo, strategy.kind)
      const head = await repo.revParse('HEAD')
      await assert.rejects(pushToForge(repo, BRANCH, {strategy, check: noRepairs}), (error: unknown) => {
        assert.ok(error instanceof FleetError)
        assert.equal(error.code, 'PUSH_REJECTED')
        assert.equal(error.message, "The forge kept rejecting this machine's push (6 attempts): other machines are pushing at the same time.")
        assert.equal(error.fix, 'Run the command again in a moment; the local commits are kept.')
        return true
      })
      assert.equal(await repo.revParse('HEAD'), head, `${strategy.kind}: the commit stays`)
    }
  })
})
