// Peers for pull-fleet: machines of a test fleet, each its own HOME behind its own sshd on 127.0.0.1, which this
// machine's key logs in to as that machine (its HOME, started in it), their SSH address in the roster.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createConnection} from 'node:net'
import {join} from 'node:path'

import {execa} from 'execa'

import type {TestFleet} from '../../../../test/support/fleet.ts'
import {Machine} from '../../../../test/support/machine.ts'
import {SSHD_BIN, Sshd} from '../../../../test/support/sshd.ts'

/** Where a peer keeps its records, relative to its HOME (the plugin's default data directory). */
export const PEER_FILE = '.local/share/fleet/task-durations/local.parquet'

/**
 * sshd logs every user in with the passwd entry's home, the same for all peers here; a forced command for `publicKey`
 * gives each peer its own: HOME set, and the command started there, as a login on that machine would be. With
 * `delayMs`, the command waits that long first, as a peer further away than 127.0.0.1 would answer later.
 */
function loginAsPeer(home: string, publicKey: string, delayMs = 0): string {
  const wait = delayMs > 0 ? `sleep ${(delayMs / 1000).toFixed(3)}; ` : ''
  const command = `${wait}HOME='${home}'; export HOME; cd "$HOME" && exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"`
  return `command="${command.replaceAll('"', '\\"')}",restrict ${publicKey.trim()}\n`
}

/** A peer: the machine, its sshd, and its address as the roster has it. */
export interface Peer {
  machine: Machine
  sshd: Sshd
  address: string
  /** The file sshd takes the client's key from (with the forced command), and that key. */
  authorizedKeys: string
  clientPublicKey: string
}

/** From now on, every login to `peer` waits `delayMs` before its command runs (0: none), as a peer further away would. */
export function delayLogins(peer: Peer, delayMs: number): void {
  writeFileSync(peer.authorizedKeys, loginAsPeer(peer.machine.home, peer.clientPublicKey, delayMs))
}

/**
 * A new machine `name` in `fleet`, behind an sshd of its own that lets in the key `clientPublicKey`: enrolled with its
 * SSH address (`127.0.0.1:<port>`) and approved by `approver`. One at a time: each enroll pushes the roster.
 */
export async function addPeer(fleet: TestFleet, approver: Machine, name: string, clientPublicKey: string): Promise<Peer> {
  const machine = new Machine(fleet.root, name)
  const authorizedKeys = join(fleet.root, `${name}-authorized_keys`)
  writeFileSync(authorizedKeys, loginAsPeer(machine.home, clientPublicKey))
  const sshd = await Sshd.start(join(fleet.root, `${name}-sshd`), {authorizedKeysFile: authorizedKeys})
  const address = `127.0.0.1:${sshd.port}`
  try {
    await machine.ok(['enroll', '--name', name, '--no-agents', '--forge', fleet.url, '--ssh-address', address, '--json'])
    await approver.approve(name)
  } catch (error) {
    await sshd.stop()
    throw error
  }
  return {machine, sshd, address, authorizedKeys, clientPublicKey}
}

/** This machine's client key for its peers: made at ~/.ssh/id_ed25519; the path and the public key line. */
export async function clientKey(machine: Machine): Promise<{file: string; publicKey: string}> {
  const publicKey = await machine.makeSshKey('.ssh/id_ed25519')
  return {file: machine.path('.ssh/id_ed25519'), publicKey}
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** An sshd started again by restartWithNewHostKey: stop it when done. */
export interface RestartedSshd {
  stop(): Promise<void>
}

/**
 * The peer's SSH server reinstalled: stopped, a new host key, and started again on the same port with the same
 * config (Sshd itself cannot restart on a given port).
 */
export async function restartWithNewHostKey(sshd: Sshd): Promise<RestartedSshd> {
  await sshd.stop()
  const hostKey = join(sshd.dir, 'ssh_host_ed25519_key')
  const before = readFileSync(`${hostKey}.pub`, 'utf8')
  rmSync(hostKey)
  rmSync(`${hostKey}.pub`)
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-test-host', '-f', hostKey])
  if (readFileSync(`${hostKey}.pub`, 'utf8') === before) throw new Error('ssh-keygen made the same key')
  const child = execa(SSHD_BIN, ['-D', '-e', '-f', join(sshd.dir, 'sshd_config')], {reject: false, stdin: 'ignore', all: true, cleanup: true})
  const deadline = Date.now() + 10_000
  while (!(await canConnect(sshd.port))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`sshd did not come back on port ${sshd.port}: ${String((await child).all)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  // Not the process itself: a promise-like that an async function returns is awaited.
  return {
    async stop() {
      child.kill('SIGKILL')
      await child
    },
  }
}
