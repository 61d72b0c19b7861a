// Over SSH (a real sshd on 127.0.0.1): each watcher asks the forge through one connection it keeps open in a
// directory of fleet's own, and lets go of it when it stops; the person's ssh setup keeps working — a Host alias of
// their ssh config, their GIT_SSH_COMMAND (sharing added to it), their GIT_SSH program (left exactly as it is).
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {controlDirectory, forgeSshEnv, holdSharedConnections, releaseSharedConnections, sharedAdvertisedRefs} from '../../src/lib/git/ssh.ts'
import {FAST_AGENTS, readOr, RunningAgents, setAgentSettings, waitFor} from '../support/agents.ts'
import {TestFleet} from '../support/fleet.ts'
import {Machine} from '../support/machine.ts'
import type {Sshd} from '../support/sshd.ts'

const APP = '.config/app'

/**
 * The ssh masters (`ssh: <socket> [mux]`, a title that takes the place of their arguments and environment) with a
 * socket in this machine's control directory: pid and socket.
 */
function masters(machine: Machine): Array<{pid: number; socket: string}> {
  const dir = controlDirectory(machine.env)
  const found: Array<{pid: number; socket: string}> = []
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const title = /^ssh: (\S+) \[mux\]/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
      if (title && title[1].startsWith(`${dir}/`)) found.push({pid: Number(pid), socket: title[1]})
    } catch {
      // gone
    }
  }
  return found
}

/** sshd's own count of TCP connections and of sessions (one per git command or forge check) so far. */
function sshdCounts(sshd: Sshd): {connections: number; sessions: number} {
  return {connections: sshd.output.match(/^Connection from /gm)?.length ?? 0, sessions: sshd.output.match(/^Starting session: /gm)?.length ?? 0}
}

describe('over SSH: one shared connection per watcher, and the person’s own ssh setup kept', function () {
  this.timeout(180_000)
  let fleet: TestFleet
  let sshd: Sshd
  let alpha: Machine
  let beta: Machine
  let running: RunningAgents[] = []

  before(async function () {
    fleet = await TestFleet.start('ssh-sharing', {ssh: true})
    sshd = fleet.sshd!
    ;[alpha, beta] = fleet.machines
    alpha.write(`${APP}/settings.conf`, 'v0\n')
    await alpha.addPath(APP)
    await setAgentSettings(alpha, FAST_AGENTS)
    await beta.sync()
    // alpha reaches the forge the way many people do: a Host alias in their ssh config, and the scp-like address.
    const config = join(fleet.root, 'ssh_config')
    const options = sshd.clientOptions(sshd.clientKey)
    writeFileSync(
      config,
      [
        'Host forge-alias',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${sshd.clientKey}`,
        ...options.flatMap((option, i) => (options[i - 1] === '-o' ? [`  ${option.replace('=', ' ')}`] : [])),
        '',
      ].join('\n'),
    )
    alpha = new Machine(fleet.root, 'alpha', {GIT_SSH_COMMAND: `ssh -F ${config}`})
    await alpha.git(['remote', 'set-url', 'origin', `forge-alias:${fleet.forge.path}`])
    await alpha.sync()
  })

  after(async function () {
    await Promise.all(running.map((r) => r.stop()))
    for (const m of [alpha, beta]) {
      const dir = controlDirectory(m.env)
      if (dir?.startsWith('/tmp/fleet-')) rmSync(dir, {recursive: true, force: true})
    }
    await fleet?.remove()
  })

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const r of running) console.log(`--- ${r.machine.name}\n${r.output.slice(-3000)}`)
  })

  it('asks the forge through an open connection from within fleet, no process started: the same answer as the forge, one more session, no login', async function () {
    holdSharedConnections()
    try {
      assert.equal(await sharedAdvertisedRefs(fleet.url, 10_000, beta.env), undefined, 'no connection open yet: git is asked instead')
      // git, as fleet runs it while it holds connections, opens the connection to share (ssh's ControlMaster).
      await execa('git', ['ls-remote', fleet.url], {env: {...beta.env, ...(await forgeSshEnv(beta.home, beta.env))}, extendEnv: false})
      assert.equal(masters(beta).length, 1)
      const before = sshdCounts(sshd)
      const refs = await sharedAdvertisedRefs(fleet.url, 10_000, beta.env)
      assert.equal(refs?.get('refs/heads/main'), await fleet.forge.head())
      const after = sshdCounts(sshd)
      assert.deepEqual({sessions: after.sessions - before.sessions, connections: after.connections - before.connections}, {sessions: 1, connections: 0})
    } finally {
      await releaseSharedConnections(beta.env)
    }
    await waitFor('the connection to end once let go', () => masters(beta).length === 0, 10_000)
  })

  it('each watcher keeps one connection in a 0700 directory of fleet’s own, and asks through it: no new login per check', async function () {
    running = [alpha, beta].map((m) => new RunningAgents(m))
    await waitFor('every watcher to start', () => running.every((r) => /watching \d+ managed path/.test(r.output)), 30_000)
    await waitFor('a shared connection on each machine', () => masters(alpha).length === 1 && masters(beta).length === 1, 30_000)
    for (const m of [alpha, beta]) {
      const dir = controlDirectory(m.env)!
      assert.ok(masters(m)[0].socket.startsWith(`${dir}/`), `${m.name}'s connection is in ${dir}`)
      assert.equal(statSync(dir).mode & 0o777, 0o700)
    }
    const before = sshdCounts(sshd)
    await new Promise((resolve) => setTimeout(resolve, 6000))
    const after = sshdCounts(sshd)
    // Each question is a session; on a busy machine this sshd's login shell makes each take up to a second.
    assert.ok(after.sessions - before.sessions >= 2, `the watchers asked the forge (${after.sessions - before.sessions} sessions in 6 s)`)
    assert.equal(after.connections - before.connections, 0, 'every question went through a connection already open')
  })

  it('a save travels both ways (alpha through its Host alias), and what git runs meanwhile shares the connection too', async function () {
    const before = sshdCounts(sshd)
    alpha.write(`${APP}/settings.conf`, 'v1 from alpha\n')
    await waitFor('v1 on beta', () => readOr(beta, `${APP}/settings.conf`) === 'v1 from alpha\n', 30_000)
    beta.write(`${APP}/settings.conf`, 'v2 from beta\n')
    await waitFor('v2 on alpha', () => readOr(alpha, `${APP}/settings.conf`) === 'v2 from beta\n', 30_000)
    assert.equal(sshdCounts(sshd).connections - before.connections, 0, 'the pushes and fetches went through the open connections')
  })

  it('a watcher that stops lets go of its connection: no ssh process left, no socket', async function () {
    const sockets = [...masters(alpha), ...masters(beta)].map((m) => m.socket)
    await Promise.all(running.map((r) => r.stop()))
    running = []
    await waitFor('the shared connections to end', () => masters(alpha).length === 0 && masters(beta).length === 0, 10_000)
    for (const socket of sockets) assert.ok(!existsSync(socket), socket)
  })

  it("a person's GIT_SSH_COMMAND of plain words is used with sharing added; their GIT_SSH program is run exactly as it is", async function () {
    const log = join(fleet.root, 'ssh-calls.log')
    const wrapper = (name: string, target: string) => {
      const file = join(fleet.root, 'bin', name)
      writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\nexec ${target} "$@"\n`)
      chmodSync(file, 0o755)
      return file
    }
    await alpha.git(['remote', 'set-url', 'origin', fleet.url])
    mkdirSync(join(fleet.root, 'bin'))
    const own = wrapper('ssh', '/usr/bin/ssh')
    const viaCommand = new Machine(fleet.root, 'alpha', {GIT_SSH_COMMAND: sshd.gitSshCommand.replace(/^ssh /, `${own} `)})
    viaCommand.write(`${APP}/settings.conf`, 'v3 through GIT_SSH_COMMAND\n')
    await viaCommand.sync()
    const calls = readFileSync(log, 'utf8').trim().split('\n')
    assert.ok(calls.length > 0)
    for (const call of calls) {
      assert.ok(call.startsWith(`-F /dev/null -i ${sshd.clientKey}`), `the person's options come first: ${call}`)
      assert.match(call, /-o ControlMaster=no -o ControlPath=\S+\/%C/, 'sharing added: an open connection would be used, none is left behind')
    }
    assert.equal(await fleet.forge.show(`dot_config/app/settings.conf`), 'v3 through GIT_SSH_COMMAND\n')

    rmSync(log)
    const program = wrapper('forge-ssh', `ssh ${sshd.clientOptions(sshd.clientKey).join(' ')}`)
    const viaProgram = new Machine(fleet.root, 'alpha', {GIT_SSH: program})
    viaProgram.write(`${APP}/settings.conf`, 'v4 through GIT_SSH\n')
    await viaProgram.sync()
    const programCalls = readFileSync(log, 'utf8').trim().split('\n')
    assert.ok(programCalls.length > 0)
    for (const call of programCalls) assert.doesNotMatch(call, /Control/, `left as it is: ${call}`)
    assert.equal(await fleet.forge.show(`dot_config/app/settings.conf`), 'v4 through GIT_SSH\n')
  })
})
