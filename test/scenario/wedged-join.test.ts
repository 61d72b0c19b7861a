// Joining a fleet whose forge holds a manifest no machine can read: the join stops before anything is changed here,
// names the commit that brought the bad version, and its fix (taken on a machine already in the fleet) works.
import assert from 'node:assert/strict'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'

const MANIFEST = '.chezmoidata/fleet.yaml'

/** The command a fix quotes between backticks, starting with `git -C`. */
function printedGitCommand(stderr: string): string {
  const fix = stderr.split('\n').find((line) => line.startsWith('Fix: '))
  assert.ok(fix, `a fix is printed:\n${stderr}`)
  const command = /`(git -C [^`]+)`/.exec(fix)?.[1]
  assert.ok(command, `the fix quotes a command:\n${fix}`)
  return command
}

describe('joining a fleet whose forge manifest cannot be read', function () {
  let fleet: TestFleet
  let root: string
  let forge: Forge
  let alpha: Machine
  let hand: string
  const handEnv = (root: string) => ({
    HOME: root,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'hand',
    GIT_AUTHOR_EMAIL: 'hand@example.invalid',
    GIT_COMMITTER_NAME: 'hand',
    GIT_COMMITTER_EMAIL: 'hand@example.invalid',
  })

  before(async function () {
    fleet = await TestFleet.start('wedged-join', {machines: ['alpha']})
    ;({
      root,
      forge,
      machines: [alpha],
    } = fleet)
    alpha.write('.zshrc', 'export EDITOR=vi\n')
    await alpha.addPath('.zshrc')
    hand = join(root, 'hand')
    await execa('git', ['clone', '--quiet', '--branch', 'main', forge.url, hand], {env: handEnv(root)})
  })
  after(() => fleet?.remove())

  for (const [what, from, to] of [
    ['an invalid field', /keyType: \w+/, 'keyType: rsa'],
    ['text that is not YAML', /^fleet:/m, 'fleet: [unclosed'],
  ] as const) {
    it(`${what}: enroll --forge stops naming the commit, leaves no source repo here, and the fix it points to works`, async function () {
      const sh = (script: string) => execa('sh', ['-c', script], {cwd: hand, env: handEnv(root)})
      await sh('git pull --quiet --ff-only origin main')
      const text = (await sh(`cat ${MANIFEST}`)).stdout
      await execa('sh', ['-c', 'cat > "$1"', 'sh', join(hand, MANIFEST)], {input: text.replace(from, to) + '\n'})
      await sh('git commit --quiet -am "Hand edit of the manifest" && git push --quiet origin HEAD:main')
      const bad = (await sh('git rev-parse --short HEAD')).stdout.trim()

      const name = what === 'an invalid field' ? 'delta' : 'gamma'
      const newcomer = new Machine(root, name)
      const joined = await newcomer.enroll(forge.url, {exit: 1, json: false})
      assert.match(joined.stderr, new RegExp(`commit ${bad} by hand, "Hand edit of the manifest"`))
      assert.match(joined.stderr, /this machine cannot join the fleet until the forge's manifest reads again/)
      assert.match(joined.stderr, /Fix: On a machine already in the fleet, run `fleet sync`/)
      assert.doesNotMatch(joined.stderr, /Correct the field in file:/, 'no fix that edits a file inside a forge address')
      assert.doesNotMatch(joined.stderr, /\n\s+at /, 'no stack trace')
      assert.doesNotMatch(joined.stderr, /column \d+:$/m, 'the YAML error ends where its text ends, not with a colon before a cut excerpt')
      assert.equal(existsSync(newcomer.sourceDir), false, 'no source repo left here')
      const share = newcomer.path('.local/share')
      assert.deepEqual(existsSync(share) ? readdirSync(share).filter((name) => name.includes('enrolling')) : [], [], 'no staging clone left')

      // The fix, as the message says: a machine of the fleet runs `fleet sync`, then the command it prints.
      const stopped = await alpha.sync({exit: 1, json: false})
      assert.match(stopped.stderr, new RegExp(`commit ${bad}`))
      await execa('sh', ['-c', printedGitCommand(stopped.stderr)], {env: alpha.env, extendEnv: false})
      await alpha.sync()

      await fleet.join(newcomer)
    })
  }
})
