// Never push a secret: every byte that would leave a machine in plain text is checked by content — new files at any
// depth of a plain managed directory, lines added to a plain managed file, files given to add-path — and what looks
// like a secret is held back: never in a commit, a commit message, the sync log or --json output, on any machine.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'

import {TestFleet} from '../support/fleet.ts'
import type {Forge} from '../support/forge.ts'
import type {Machine} from '../support/machine.ts'
import {LOOK_ALIKES, SECRETS} from '../support/secret-corpus.ts'

/** Every file under a directory (logs, state), as text. */
function allTextUnder(dir: string): string {
  let text = ''
  const visit = (path: string) => {
    const info = statSync(path, {throwIfNoEntry: false})
    if (info?.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry))
    else if (info?.isFile()) text += readFileSync(path, 'latin1')
  }
  visit(dir)
  return text
}

const GH = 'ghp_N50DfCT8L9yNdy1dDT2koRgRDKW5pADOclfe'
const SLACK = 'xoxb-822206-0773729-we8eauReErF30FNApqmzNG4z'

describe('secrets: what looks like a secret never leaves in plain text', function () {
  let fleet: TestFleet
  let forge: Forge
  let alpha: Machine
  let beta: Machine
  const outputs: string[] = []

  before(async function () {
    fleet = await TestFleet.start('secrets')
    ;({
      forge,
      machines: [alpha, beta],
    } = fleet)
    alpha.write('.claude/settings.json', '{"theme": "dark"}\n')
    for (const [i] of SECRETS.entries()) alpha.write(`.claude/notes/existing-${i}.txt`, `notes ${i}\n`)
    await alpha.addPath('.claude')
    await beta.sync()
  })
  after(() => fleet?.remove())

  it('every secret of the corpus is held back as a new file at depth 1 and 3 and when appended; no look-alike is', async function () {
    for (const [i, {name, content}] of SECRETS.entries()) {
      alpha.write(`.claude/${name}`, content)
      alpha.write(`.claude/project/deep/${name}`, content)
      alpha.write(`.claude/notes/existing-${i}.txt`, `notes ${i}\n${content}`)
    }
    for (const {name, content} of LOOK_ALIKES) {
      alpha.write(`.claude/alike/${name}`, content)
      alpha.write(`.claude/alike/x/y/${name}`, content)
    }
    const run = await alpha.sync()
    outputs.push(run.stdout, run.stderr)
    const result = run.result
    const held = new Set<string>(result.heldBack.map((h: {path: string}) => h.path))
    for (const [i, {name}] of SECRETS.entries()) {
      for (const path of [`.claude/${name}`, `.claude/project/deep/${name}`, `.claude/notes/existing-${i}.txt`])
        assert.ok(held.has(path), `${path} is held back: ${[...held].join(', ')}`)
    }
    for (const h of result.heldBack)
      assert.ok(h.findings.length > 0 && h.findings.every((f: {kind: string; line: number}) => f.kind && f.line > 0), JSON.stringify(h))
    for (const {name} of LOOK_ALIKES) {
      for (const path of [`.claude/alike/${name}`, `.claude/alike/x/y/${name}`]) assert.ok(result.captured.includes(path), `${path} is captured`)
    }

    await beta.sync()
    for (const {name, content} of LOOK_ALIKES) assert.equal(beta.read(`.claude/alike/x/y/${name}`), content)
    for (const [i, {name}] of SECRETS.entries()) {
      assert.equal(beta.exists(`.claude/${name}`), false, `${name} did not reach beta`)
      assert.equal(beta.read(`.claude/notes/existing-${i}.txt`), `notes ${i}\n`, 'beta has the file as it was before the secret was added')
    }
  })

  it('held back stays held back, and status says so, until the person acts', async function () {
    const again = await alpha.sync()
    outputs.push(again.stdout, again.stderr)
    assert.ok(again.result.heldBack.length >= SECRETS.length * 3, 'a later sync holds them back again')
    const status = await alpha.status({exit: 'any', json: false})
    outputs.push(status.stdout, status.stderr)
    assert.match(status.stdout, /Held back/)
    assert.match(status.stdout, /fleet add-path --encrypt|--encrypt/)
    const json = await alpha.status({exit: 'any'})
    outputs.push(json.stdout)
    assert.ok(json.result.heldBack.some((h) => h.path === '.claude/npmrc'))
    const paths = await alpha.paths({exit: 'any'})
    outputs.push(paths.stdout)
    assert.equal(paths.result.paths.find((p) => p.path === '.claude')?.state, 'held back (looks like a secret)')
  })

  it('a file that only looks like a secret is synced once the person says so (--plain-text)', async function () {
    alpha.write('.claude/fixtures/login.conf', 'password = hunter2hunter2 # a test fixture\n')
    const held = (await alpha.sync()).result
    assert.ok(held.heldBack.some((h) => h.path === '.claude/fixtures/login.conf'))
    await alpha.addPath('.claude/fixtures/login.conf', {plainText: true})
    await beta.sync()
    assert.equal(beta.read('.claude/fixtures/login.conf'), 'password = hunter2hunter2 # a test fixture\n')
    // The confirmation is for those contents: a real secret added later is held back like any other.
    alpha.write('.claude/fixtures/login.conf', `password = hunter2hunter2 # a test fixture\ntoken = ${GH}\n`)
    const later = await alpha.sync({exit: 'any'})
    outputs.push(later.stdout)
    assert.ok(later.result.heldBack.some((h) => h.path === '.claude/fixtures/login.conf'))
  })

  it("held back whatever shape it takes: an edit to a binary, a UTF-16 or a very large file, a symlink's target", async function () {
    alpha.write('.claude/bin.dat', Buffer.from('\0\u0001HDR\0\n'))
    alpha.write('.claude/big.jsonl', '{"x":1}\n'.repeat(800_000))
    await alpha.sync()
    alpha.write('.claude/bin.dat', Buffer.concat([readFileSync(alpha.path('.claude/bin.dat')), Buffer.from(`\0tok=${GH}\n`)]))
    alpha.edit('.claude/big.jsonl', (text) => `${text}{"display":"export GH_TOKEN=${GH}"}\n`)
    alpha.write('.claude/tool/profile.ps1', Buffer.from(`\uFEFF$env:GITHUB_TOKEN = "${GH}"\r\n`, 'utf16le'))
    symlinkSync(`https://me:${GH}@github.com`, alpha.path('.claude/link'))
    const run = await alpha.sync()
    outputs.push(run.stdout, run.stderr)
    const held = run.result.heldBack.map((h) => h.path)
    for (const path of ['.claude/bin.dat', '.claude/big.jsonl', '.claude/tool/profile.ps1', '.claude/link'])
      assert.ok(held.includes(path), `${path} held back: ${held.join(', ')}`)
  })

  it("resolve --mine never pushes a secret; a file held back is not replaced by another machine's of the same name", async function () {
    alpha.write('.claude/r.txt', 'one\ntwo\nthree\n')
    await alpha.sync()
    await beta.sync()
    beta.write('.claude/r.txt', 'one\ntwo-beta\nthree\n')
    await beta.sync()
    alpha.write('.claude/r.txt', 'one\ntwo-alpha\nthree\n')
    await alpha.sync({exit: 4})
    alpha.write('.claude/r.txt', `one\ntwo-alpha\nthree\nslack=${SLACK}\n`)
    const refused = await alpha.resolve('.claude/r.txt', 'mine', {exit: 2, json: false})
    outputs.push(refused.stdout, refused.stderr)
    assert.match(refused.stderr, /looks like it holds a secret/)
    await alpha.resolve('.claude/r.txt', 'theirs')

    alpha.write('.claude/c/npmrc', SECRETS.find((e) => e.name === 'npmrc')!.content)
    beta.write('.claude/c/npmrc', 'benign=1\n')
    await beta.sync()
    const run = await alpha.sync({exit: 'any'})
    outputs.push(run.stdout)
    assert.ok(run.result.heldBack.some((h) => h.path === '.claude/c/npmrc'))
    assert.equal(alpha.read('.claude/c/npmrc'), SECRETS.find((e) => e.name === 'npmrc')!.content, "alpha's file is left as it is")
  })

  it('add-path --force adds a large tree, and still holds what looks like a secret back', async function () {
    for (let i = 0; i < 1005; i++) alpha.write(`.vim/pack/p${i}.vim`, 'x\n')
    alpha.write('.vim/pack/npmrc', SECRETS.find((e) => e.name === 'npmrc')!.content)
    const refused = await alpha.addPath('.vim', {force: true, exit: 2, json: false})
    outputs.push(refused.stdout, refused.stderr)
    assert.match(refused.stderr, /npm access token/)
    assert.match(refused.stderr, /--plain-text/)
  })

  it('public keys are accepted by add-path; a private key is refused with the fix', async function () {
    // ~/.ssh/authorized_keys itself is the fleet's (its block of the machines' keys): the same lines in authorized_keys2.
    alpha.write('.ssh/authorized_keys2', LOOK_ALIKES.find((e) => e.name === 'authorized_keys')!.content, 0o600)
    alpha.write('.ssh/id_ed25519.pub', LOOK_ALIKES.find((e) => e.name === 'id_ed25519.pub')!.content)
    await alpha.addPath(['.ssh/authorized_keys2', '.ssh/id_ed25519.pub'])
    const key = SECRETS.find((e) => e.name === 'id_ed25519')!
    alpha.write('.ssh/id_ed25519', key.content, 0o600)
    const refused = await alpha.addPath('.ssh/id_ed25519', {exit: 2, json: false})
    assert.match(refused.stderr, /private key \(line 1\)/)
    assert.match(refused.stderr, /--encrypt/)
    assert.ok(!(refused.stdout + refused.stderr).includes(key.value!))
    await beta.sync()
    assert.match(beta.read('.ssh/authorized_keys2'), /ssh-ed25519/)
  })

  it("no secret value is in the forge's history, the source repos, the sync logs and state, or any output", async function () {
    const history = await forge.git(['log', '--all', '-p', '--format=%H %an %s%n%b'])
    // Everything fleet writes but the backups, which are this machine's own files kept on this machine (a directory
    // only its owner can read), as `resolve --theirs` promises.
    const written = [alpha, beta].map((m) => allTextUnder(m.locations.logDir) + readFileSync(m.syncFiles.state, 'utf8') + allTextUnder(m.sourceDir)).join('\n')
    for (const m of [alpha, beta]) assert.equal(statSync(m.locations.backupsDir, {throwIfNoEntry: false})?.mode ?? 0o40700, 0o40700)
    const said = outputs.join('\n')
    for (const {name, value} of [...SECRETS, {name: 'a GitHub token', value: GH}, {name: 'a Slack token', value: SLACK}]) {
      assert.ok(!history.includes(value!), `${name}'s value is in the forge's history`)
      assert.ok(!written.includes(value!), `${name}'s value is in a log, state or source file`)
      assert.ok(!said.includes(value!), `${name}'s value is in fleet's output`)
    }
  })
})
