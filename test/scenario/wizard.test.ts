// The interactive `fleet enroll` wizard, driven the way a person drives it: in a real terminal (a tmux pane),
// reading the questions off the screen and answering with keys.
import assert from 'node:assert/strict'
import {join} from 'node:path'

import {FLEET_BIN, NODE} from '../support/cli.ts'
import {Forge} from '../support/forge.ts'
import {Machine} from '../support/machine.ts'
import {Terminal} from '../support/terminal.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const START_OR_JOIN = /\? Start a new fleet, or join an existing one\?/
const NAME = /\? Name for this machine:/
const AGENTS = /\? Install background agents \(sync on every save\)\? \(Y\/n\)/
const CONFIRM = /\? Enroll this machine\? \(Y\/n\)/

/** `fleet enroll` with no flags in a fresh terminal, as the machine: its HOME and environment, but a terminal, not CI. */
async function enrollInTerminal(machine: Machine): Promise<Terminal> {
  const {CI: _ci, ...env} = machine.env
  const terminal = new Terminal({columns: 200, rows: 50})
  await terminal.start([NODE, FLEET_BIN, 'enroll'], env, machine.home)
  return terminal
}

/** The roster as a machine sees it: [name, state, recipient] for each machine. */
/** Answer the wizard's first questions for joining: join, the forge's URL, the machine's name, no agents. */
async function answerJoin(terminal: Terminal, url: string, name: string): Promise<void> {
  await terminal.waitFor(START_OR_JOIN)
  await terminal.send('Down', 'Enter')
  await terminal.waitFor(/\? Forge URL of the fleet to join:/)
  await terminal.type(url)
  await terminal.send('Enter')
  await terminal.waitFor(NAME)
  await terminal.type(name)
  await terminal.send('Enter')
  await terminal.waitFor(AGENTS)
  await terminal.send('n', 'Enter')
}

async function roster(machine: Machine): Promise<Array<{name: string; state: string; recipient: string}>> {
  return (await machine.listMachines()).result.machines
}

describe('enroll wizard: in a real terminal', function () {
  let root: string
  let forge: Forge
  let terminal: Terminal | undefined

  before(async function () {
    root = makeTempDir('wizard')
    forge = await Forge.create(root)
  })
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && terminal) console.error(`--- terminal at failure\n${await terminal.screen({history: true}).catch(String)}`)
    await terminal?.stop()
    terminal = undefined
  })
  after(() => removeTempDir(root))

  it('starts a new fleet: start, forge URL, name, X25519, no agents, summary, confirm', async function () {
    const alpha = new Machine(root, 'alpha')
    terminal = await enrollInTerminal(alpha)

    let screen = await terminal.waitFor(START_OR_JOIN)
    assert.match(screen, /❯ Start a new fleet\n {2}Join an existing fleet/)
    await terminal.send('Enter')

    screen = await terminal.waitFor(/\? Forge URL \(an empty git repository; leave empty for a bare repository on this machine\):/)
    assert.match(screen, /✔ Start a new fleet, or join an existing one\? Start a new fleet/)
    await terminal.type(forge.url)
    await terminal.send('Enter')

    // The default (the host name) is shown in parentheses, not typed in: typing replaces it, Enter alone takes it.
    screen = await terminal.waitFor(NAME)
    assert.match(screen, /✔ Forge URL .*: file:\/\/.*forge\.git/)
    assert.match(screen, /\? Name for this machine: \(\S+\)/)
    await terminal.type('alpha')
    await terminal.waitFor(/\? Name for this machine: alpha$/m)
    await terminal.send('Enter')

    screen = await terminal.waitFor(/\? Key type for this fleet:/)
    assert.match(screen, /❯ Hybrid post-quantum \(recommended\)\n {2}X25519/)
    await terminal.send('Down')
    await terminal.waitFor(/❯ X25519/)
    await terminal.send('Enter')

    await terminal.waitFor(AGENTS)
    await terminal.send('n')
    await terminal.waitFor(/\(Y\/n\) n$/m)
    await terminal.send('Enter')

    screen = await terminal.waitFor(CONFIRM)
    assert.match(screen, /✔ Key type for this fleet: X25519/)
    assert.match(screen, /✔ Install background agents \(sync on every save\)\? No/)
    const summary = screen.slice(screen.indexOf('Summary'))
    assert.match(summary, /^Summary$/m)
    assert.match(summary, new RegExp(`fleet: +start a new fleet on ${forge.url.replaceAll('.', '\\.')}$`, 'm'))
    assert.match(summary, /machine: +alpha$/m)
    assert.match(summary, /key type: +X25519$/m)
    assert.match(summary, /agents: +do not install$/m)
    assert.match(summary, new RegExp(`key file: +${alpha.identityFile.replaceAll('.', '\\.')} \\(created, mode 0600\\)$`, 'm'))
    await terminal.send('Enter')

    assert.equal(await terminal.waitForExit(), 0, await terminal.screen({history: true}))
    screen = await terminal.screen({history: true})
    assert.match(screen, /✔ Enroll this machine\? Yes/)
    assert.match(screen, /^alpha is active in the fleet at /m)

    const machines = await roster(alpha)
    assert.deepEqual(
      machines.map((m) => [m.name, m.state]),
      [['alpha', 'active']],
    )
    assert.match(machines[0].recipient, /^age1/)
    assert.doesNotMatch(machines[0].recipient, /^age1pq1/, 'an X25519 key, not a post-quantum one')
    assert.equal(alpha.mode(alpha.identityFile), 0o600)
  })

  it('joins: an unreachable URL is refused in place, fixed, and the machine joins as pending', async function () {
    const beta = new Machine(root, 'beta')
    terminal = await enrollInTerminal(beta)

    await terminal.waitFor(START_OR_JOIN)
    await terminal.send('Down')
    const choice = await terminal.waitFor(/❯ Join an existing fleet/)
    assert.match(choice, /This machine joins as pending until an active machine approves it\./)
    await terminal.send('Enter')

    await terminal.waitFor(/\? Forge URL of the fleet to join:/)
    const missing = `file://${join(root, 'no-such-forge.git')}`
    await terminal.type(missing)
    await terminal.send('Enter')
    // The answer stays on the line with the reason under it, to be corrected.
    let screen = await terminal.waitFor(/cannot be reached/)
    assert.match(screen, new RegExp(`\\? Forge URL of the fleet to join: ${missing.replaceAll('.', '\\.')}$`, 'm'))
    await terminal.send('C-u')
    await terminal.waitFor(/\? Forge URL of the fleet to join:$/m)
    await terminal.type(forge.url)
    await terminal.send('Enter')

    screen = await terminal.waitFor(NAME)
    assert.match(screen, new RegExp(`✔ Forge URL of the fleet to join: ${forge.url.replaceAll('.', '\\.')}$`, 'm'))
    assert.doesNotMatch(screen, /cannot be reached/, 'the message goes once the URL is fixed')
    await terminal.type('beta')
    await terminal.waitFor(/\? Name for this machine: beta$/m)
    await terminal.send('Enter')

    // Joining: the fleet decides the key type, so there is no question about it.
    screen = await terminal.waitFor(AGENTS)
    assert.doesNotMatch(screen, /Key type/)
    await terminal.send('n', 'Enter')

    screen = await terminal.waitFor(CONFIRM)
    const summary = screen.slice(screen.indexOf('Summary'))
    assert.match(summary, new RegExp(`fleet: +join ${forge.url.replaceAll('.', '\\.')}$`, 'm'))
    assert.match(summary, /machine: +beta$/m)
    assert.doesNotMatch(summary, /key type:/)
    await terminal.send('Enter')

    assert.equal(await terminal.waitForExit(), 0, await terminal.screen({history: true}))
    screen = await terminal.screen({history: true})
    assert.match(screen, /^beta is pending in the fleet at /m)
    assert.match(screen, /fleet machines approve beta/)

    const machines = await roster(beta)
    assert.deepEqual(
      machines.map((m) => [m.name, m.state]),
      [
        ['alpha', 'active'],
        ['beta', 'pending'],
      ],
    )
  })

  it('"no" at the confirmation changes nothing', async function () {
    const gamma = new Machine(root, 'gamma')
    const head = await forge.head()
    terminal = await enrollInTerminal(gamma)

    await answerJoin(terminal, forge.url, 'gamma')
    await terminal.waitFor(CONFIRM)
    await terminal.send('n')
    await terminal.waitFor(/Enroll this machine\? \(Y\/n\) n$/m)
    await terminal.send('Enter')

    assert.notEqual(await terminal.waitForExit(), 0)
    const screen = await terminal.screen({history: true})
    assert.match(screen, /✔ Enroll this machine\? No/)
    assert.match(screen, /Stopped: nothing was changed\./)

    assert.equal(gamma.exists(gamma.identityFile), false)
    assert.equal(gamma.exists(gamma.sourceDir), false)
    assert.equal(gamma.exists(gamma.locations.chezmoiConfigDir), false)
    assert.equal(await forge.head(), head, 'nothing was pushed')
    assert.deepEqual(
      (await roster(new Machine(root, 'alpha'))).map((m) => m.name),
      ['alpha', 'beta'],
    )
  })

  it('offers ~/.ssh/id_ed25519.pub when it exists; yes records it in the roster', async function () {
    const delta = new Machine(root, 'delta')
    const key = await delta.makeSshKey()
    terminal = await enrollInTerminal(delta)

    await answerJoin(terminal, forge.url, 'delta')

    let screen = await terminal.waitFor(/\? Record your SSH key .*id_ed25519\.pub in the roster\?.*\(Y\/n\)/)
    assert.match(screen, new RegExp(`${delta.path('.ssh/id_ed25519.pub').replaceAll('.', '\\.')}`))
    await terminal.send('Enter')

    screen = await terminal.waitFor(CONFIRM)
    assert.match(screen.slice(screen.indexOf('Summary')), /ssh key: +\S+\/\.ssh\/id_ed25519\.pub$/m)
    await terminal.send('Enter')
    assert.equal(await terminal.waitForExit(), 0, await terminal.screen({history: true}))

    const machines = await roster(delta)
    assert.equal((machines.find((m) => m.name === 'delta') as {sshPublicKey?: string} | undefined)?.sshPublicKey, key)
  })
})
