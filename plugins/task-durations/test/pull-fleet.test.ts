// pull-fleet against real peers: three machines of one fleet, each its own HOME behind its own sshd on 127.0.0.1,
// and this machine (alpha) pulling their local.parquet with rsync. After a first good pull, one peer goes offline,
// one gets a new host key on the same port and the healthy one records more: its new file is copied, the other two
// keep their last good copies. Then the healthy one serves a truncated file: discarded, its last good copy kept.
// Each outcome is said for what it is, by pull-fleet and by fleet doctor's checks.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

import {shellCommand} from '../../../src/lib/errors/shell-command.ts'
import {FLEET_BIN, printed} from '../../../test/support/cli.ts'
import {TestFleet} from '../../../test/support/fleet.ts'
import type {Machine} from '../../../test/support/machine.ts'
import {addPeer, clientKey, type Peer, PEER_FILE, type RestartedSshd, restartWithNewHostKey} from './support/peers.ts'

/** This checkout's plugin (not the one node_modules may link to). */
const PLUGIN_DIR = fileURLToPath(new URL('..', import.meta.url))
const PEERS = ['healthy', 'offline', 'rekeyed'] as const
type PeerName = (typeof PEERS)[number]
const TASK = 'build'

interface PeerOutcome {
  peer: string
  status: string
  ok: boolean
  message: string
  fix?: string
  bytes?: number
  hostKeyRecorded?: boolean
}
interface PullReport {
  ok: boolean
  tree: string
  knownHosts: string
  peers: PeerOutcome[]
}
interface Check {
  id: string
  status: string
  message: string
  fix?: string
}

describe('task-durations pull-fleet: peers over SSH', function () {
  let fleet: TestFleet
  let alpha: Machine
  let env: NodeJS.ProcessEnv
  const peers = new Map<PeerName, Peer>()
  /** The rekeyed peer's sshd once restarted with its new host key (Sshd cannot restart on the same port). */
  let rekeyedSshd: RestartedSshd | undefined
  let first: PullReport
  /** The copies after the first pull, byte for byte. */
  const firstCopies = new Map<string, Buffer>()

  const copyOf = (peer: string) => join(first.tree, `host=${peer}`, 'local.parquet')
  const lastPullFile = () => join(first.tree, '..', 'last-pull.json')
  const lastPull = () => JSON.parse(readFileSync(lastPullFile(), 'utf8'))
  /** The command the fix for the rekeyed peer gives: forget its pinned key. */
  const forgetOldKey = () => `ssh-keygen -R '[127.0.0.1]:${peer('rekeyed').sshd.port}' -f ~/.local/share/fleet/task-durations/known_hosts`
  const peer = (name: PeerName) => peers.get(name)!

  before(async function () {
    fleet = await TestFleet.start('pullfleet', {machines: ['alpha']})
    ;[alpha] = fleet.machines
    const key = await clientKey(alpha)
    env = {FLEET_SSH_IDENTITY: key.file}
    for (const name of PEERS) peers.set(name, await addPeer(fleet, alpha, name, key.publicKey))
    await Promise.all(
      [alpha, ...PEERS.map((name) => peer(name).machine)].map(async (machine) => {
        await machine.ok(['plugins', 'link', PLUGIN_DIR, '--no-install'])
        await machine.ok(['task-durations', 'record', TASK, '10', '--json'])
      }),
    )
  })

  after(async function () {
    await rekeyedSshd?.stop()
    await Promise.all([...peers.values()].map(({sshd}) => sshd.stop()))
    await fleet?.remove()
  })

  it('copies every peer’s file into host=<peer>/local.parquet at the first pull, pinning each host key', async function () {
    const run = await alpha.fleet(['task-durations', 'pull-fleet', '--json'], {env})
    assert.equal(run.exitCode, 0, printed(run))
    first = run.json<PullReport>()
    assert.deepEqual(
      first.peers.map((p) => [p.peer, p.status, p.hostKeyRecorded]),
      PEERS.map((name) => [name, 'copied', true]),
    )
    for (const name of PEERS) {
      const copy = readFileSync(copyOf(name))
      assert.deepEqual(copy, readFileSync(peer(name).machine.path(PEER_FILE)), `${name}'s copy is its file`)
      firstCopies.set(name, copy)
    }
    const pinned = readFileSync(first.knownHosts, 'utf8').trim().split('\n')
    assert.equal(pinned.length, PEERS.length, `one pinned key per peer:\n${pinned.join('\n')}`)
  })

  it('copies the healthy peer’s new file, and keeps the last good copy of an offline peer and of one whose host key changed, saying which', async function () {
    assert.ok(first, 'the first pull ran')
    await peer('healthy').machine.ok(['task-durations', 'record', TASK, '20', '--json'])
    await peer('offline').sshd.stop()
    rekeyedSshd = await restartWithNewHostKey(peer('rekeyed').sshd)

    // As the agent runs it: no terminal, plain lines.
    const run = await alpha.fleet(['task-durations', 'pull-fleet'], {env})
    assert.equal(run.exitCode, 1, `a failed peer fails the pull\n${printed(run)}`)
    assert.match(run.stdout, /^healthy: copied /m)
    assert.match(run.stdout, /^offline: offline \(connection refused\); the last good copy is kept/m)
    assert.match(run.stdout, /^rekeyed: host key changed since it was pinned \(.*\): refused; the last good copy is kept/m)
    assert.ok(run.stdout.includes(forgetOldKey()), `the fix says how to forget the old key\n${run.stdout}`)
    assert.match(run.stdout, /Pulled 3 peers .*: 1 copied, 2 failed/)

    for (const name of ['offline', 'rekeyed'] as const) assert.deepEqual(readFileSync(copyOf(name)), firstCopies.get(name), `${name}'s last good copy is kept`)
    assert.deepEqual(readFileSync(copyOf('healthy')), readFileSync(peer('healthy').machine.path(PEER_FILE)), 'the healthy peer’s new file is copied')
    assert.deepEqual(
      lastPull().peers.map((p: PeerOutcome) => [p.peer, p.status]),
      [
        ['healthy', 'copied'],
        ['offline', 'offline'],
        ['rekeyed', 'host-key-changed'],
      ],
    )
  })

  it('discards a truncated download and keeps the last good copy', async function () {
    const served = peer('healthy').machine.path(PEER_FILE)
    const lastGood = readFileSync(copyOf('healthy'))
    truncateSync(served, Math.floor(lastGood.length / 2))

    const run = await alpha.fleet(['task-durations', 'pull-fleet', '--json'], {env})
    assert.equal(run.exitCode, 1, printed(run))
    const healthy = run.json<PullReport>().peers.find((p) => p.peer === 'healthy')
    assert.equal(healthy?.status, 'bad-file', JSON.stringify(healthy))
    assert.match(healthy.message, /incomplete parquet file .*discarded; the last good copy is kept/)
    assert.deepEqual(readFileSync(copyOf('healthy')), lastGood)
    assert.deepEqual(readdirSync(join(copyOf('healthy'), '..')), ['local.parquet'], 'no download is left beside the copy')
  })

  it('answers estimate --fleet from every last good copy and this machine’s own file', async function () {
    const estimate = (await alpha.ok(['task-durations', 'estimate', TASK, '--fleet', '--json'])).json<{
      count: number
      hosts: Array<{host: string; count: number}>
    }>()
    assert.deepEqual(
      estimate.hosts.map((h) => [h.host, h.count]),
      [
        ['alpha', 1],
        ['healthy', 2],
        ['offline', 1],
        ['rekeyed', 1],
      ],
    )
    assert.equal(estimate.count, 5)
  })

  it('has doctor checks: rsync, each peer (offline warns, a changed key fails), and the age of the last pull', async function () {
    const checks = (await alpha.doctor({exit: 1, env})).result.checks as Check[]
    const byId = (id: string) => checks.find((check) => check.id === id) ?? assert.fail(`no check ${id} in ${checks.map((c) => c.id).join(', ')}`)
    assert.equal(byId('task-durations.rsync').status, 'ok')
    assert.equal(byId('task-durations.peer.healthy').status, 'ok')
    assert.equal(byId('task-durations.peer.offline').status, 'warn')
    const rekeyed = byId('task-durations.peer.rekeyed')
    assert.equal(rekeyed.status, 'fail')
    assert.match(rekeyed.message, /host key changed/)
    assert.ok(rekeyed.fix?.includes(forgetOldKey()), rekeyed.fix)
    // The last pull failed for every peer but none is fine: a warning naming each, with its fix.
    const lastPullCheck = byId('task-durations.last-pull')
    assert.equal(lastPullCheck.status, 'warn', JSON.stringify(lastPullCheck))
    assert.match(lastPullCheck.message, /3 of 3 failed: healthy \(bad-file\), offline \(offline\), rekeyed \(host-key-changed\)/)
    assert.ok(lastPullCheck.fix?.includes(`rekeyed: `) && lastPullCheck.fix.includes(forgetOldKey()), lastPullCheck.fix)

    // A pull an hour old: the agent is not pulling.
    writeFileSync(lastPullFile(), JSON.stringify({...lastPull(), pulledAt: new Date(Date.now() - 3_600_000).toISOString()}))
    const stale = (await alpha.doctor({check: 'task-durations.last-pull', exit: 'any', env})).result.checks as Check[]
    assert.equal(stale[0].status, 'warn', JSON.stringify(stale))
    assert.match(stale[0].fix ?? '', /pull-fleet/)
  })

  it('reaches the rekeyed peer again once its old key is forgotten, as the fix says; a peer without a file has recorded nothing, which is no failure', async function () {
    await alpha.shell(forgetOldKey())
    const lastGood = readFileSync(copyOf('healthy'))
    rmSync(peer('healthy').machine.path(PEER_FILE))
    const run = await alpha.fleet(['task-durations', 'pull-fleet', '--json'], {env})
    const outcomes = Object.fromEntries(run.json<PullReport>().peers.map((p) => [p.peer, p]))
    assert.deepEqual([outcomes.rekeyed.status, outcomes.rekeyed.hostKeyRecorded], ['unchanged', true], JSON.stringify(outcomes.rekeyed))
    assert.deepEqual([outcomes.healthy.status, outcomes.healthy.ok], ['no-file', true], JSON.stringify(outcomes.healthy))
    assert.equal(
      outcomes.healthy.message,
      'has recorded nothing yet: no ~/.local/share/fleet/task-durations/local.parquet there, its file is gone (the last good copy is kept)',
    )
    assert.match(outcomes.healthy.fix ?? '', /FLEET_DATA_DIR set keeps its records under that directory instead/)
    assert.deepEqual(readFileSync(copyOf('healthy')), lastGood, 'the last good copy is kept')
    assert.equal(run.exitCode, 1, 'the offline peer still fails the pull')
  })

  it('shows plain lines, not the live view, in a terminal that reports 0 columns', async function () {
    const command = `stty cols 0 rows 0; exec ${shellCommand(process.execPath, FLEET_BIN, 'task-durations', 'pull-fleet')}`
    const run = await execa('script', ['-qec', command, '/dev/null'], {
      env: {...alpha.env, ...env, TERM: 'xterm-256color', CI: ''},
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
    const lines = run.stdout.replaceAll('\r', '').split('\n')
    assert.ok(
      lines.some((line) => /^rekeyed: (unchanged|copied) /.test(line)),
      run.stdout,
    )
    assert.match(run.stdout, /^offline: /m)
    assert.ok(!lines.some((line) => line.trim().length === 1), `no line of one character:\n${run.stdout}`)
  })
})
