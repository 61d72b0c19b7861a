// How this plugin reaches its peers over SSH: host keys pinned in a known_hosts file of its own (recorded at first
// contact, a changed key refused), never a prompt, the client key named by FLEET_SSH_IDENTITY when set — and what a
// failed connection's stderr says, since ssh and rsync exit 255 for an offline peer and a changed host key alike.
import {homedir} from 'node:os'
import {join} from 'node:path'

import {shellCommand, type SshAddress, sshDestination, withTilde} from '@dotfleet/fleet'

/** The environment variable that names the private key to log in to peers with (else ssh's own choice: ~/.ssh/config, the agent, ~/.ssh/id_*). */
export const IDENTITY_VARIABLE = 'FLEET_SSH_IDENTITY'

/** The known_hosts file this plugin pins its peers' host keys in, in its data directory. */
export function knownHostsFile(dataDir: string): string {
  return join(dataDir, 'known_hosts')
}

/** A peer's name in a known_hosts file, as ssh writes it: `host`, or `[host]:port` for another port than 22. */
export function knownHostsName(address: SshAddress): string {
  return address.port === undefined || address.port === 22 ? address.host : `[${address.host}]:${address.port}`
}

/**
 * A file name as the value of an ssh `-o` option: ssh expands `%` tokens in these (so `%` is doubled) and splits a
 * value at spaces (so one with spaces is double-quoted).
 */
function optionPath(path: string): string {
  const escaped = path.replaceAll('%', '%%')
  return /[\s"']/.test(escaped) ? `"${escaped.replaceAll('"', '\\"')}"` : escaped
}

/** What every connection to a peer needs beside its address. */
export interface SshSettings {
  /** The known_hosts file the peers' keys are pinned in. */
  knownHosts: string
  /** Seconds to wait for the peer to answer at all (ssh's ConnectTimeout). */
  connectTimeoutSeconds: number
  /** The environment, for FLEET_SSH_IDENTITY. */
  env: NodeJS.ProcessEnv
}

/**
 * ssh's arguments, before the destination, to reach `address`: the pinned known_hosts (a new host's key recorded,
 * a changed one refused), no prompt (BatchMode), the connect timeout, keep-alives that notice a peer gone quiet, the
 * identity from FLEET_SSH_IDENTITY (and only it) when set, and the port when the address names one.
 */
export function sshArgs(address: SshAddress, settings: SshSettings): string[] {
  const options = [
    `UserKnownHostsFile=${optionPath(settings.knownHosts)}`,
    'StrictHostKeyChecking=accept-new',
    'BatchMode=yes',
    `ConnectTimeout=${Math.max(1, Math.round(settings.connectTimeoutSeconds))}`,
    'ServerAliveInterval=5',
    'ServerAliveCountMax=3',
  ]
  const identity = settings.env[IDENTITY_VARIABLE]
  const identityArgs = identity ? ['-i', identity] : []
  if (identity) options.push('IdentitiesOnly=yes')
  const port = address.port === undefined ? [] : ['-p', String(address.port)]
  return [...identityArgs, ...options.flatMap((option) => ['-o', option]), ...port]
}

/**
 * A word for rsync's `-e`, which rsync splits itself at spaces: one with spaces or quotes in single quotes (rsync takes
 * a doubled quote inside quotes for the quote itself).
 */
function rsyncWord(word: string): string {
  return /[\s"']/.test(word) ? `'${word.replaceAll("'", "''")}'` : word
}

/** rsync's `-e` value: ssh with sshArgs, as one string that rsync splits back into those arguments. */
export function rsyncShell(address: SshAddress, settings: SshSettings): string {
  return ['ssh', ...sshArgs(address, settings)].map(rsyncWord).join(' ')
}

/** The ssh command a person runs to try a peer by hand (with their own settings): `ssh -p 2222 me@laptop.local true`. */
export function sshByHand(address: SshAddress): string {
  return shellCommand('ssh', ...(address.port === undefined ? [] : ['-p', String(address.port)]), sshDestination(address), 'true')
}

/** Why a connection failed, as far as ssh's stderr tells. */
export type ConnectionFailure =
  {kind: 'host-key-changed'; fingerprint?: string} | {kind: 'host-key-unverified'} | {kind: 'denied'} | {kind: 'offline'; reason: string}

const OFFLINE = [
  /connection refused/i,
  /connection timed out/i,
  /operation timed out/i,
  /no route to host/i,
  /network is unreachable/i,
  /could not resolve hostname[^\n]*/i,
  /name or service not known/i,
  /connection closed by remote host/i,
  /connection reset by peer/i,
  /timeout, server [^\n]* not responding/i,
]

/**
 * What ssh's (or rsync's) stderr says went wrong with the connection, or undefined when it was not the connection. A
 * changed host key first (its warning may be followed by anything), then a key ssh could not check, a refused login,
 * and the ways a peer is not there.
 */
export function connectionFailure(stderr: string): ConnectionFailure | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|host key for \S+ has changed/i.test(stderr)) {
    const fingerprint = /key sent by the remote host is\s*\n?\s*(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1]
    return {kind: 'host-key-changed', ...(fingerprint ? {fingerprint} : {})}
  }
  if (/Host key verification failed/i.test(stderr)) return {kind: 'host-key-unverified'}
  if (/Permission denied \(/i.test(stderr)) return {kind: 'denied'}
  for (const pattern of OFFLINE) {
    const match = pattern.exec(stderr)
    if (match) return {kind: 'offline', reason: match[0].trim().toLowerCase()}
  }
  return undefined
}

/** ssh wrote the peer's key into the known_hosts file just now: this was the first contact. */
export function recordedNewHostKey(stderr: string): boolean {
  return /Permanently added .* to the list of known hosts/i.test(stderr)
}

/**
 * What a failed connection to `peer` at `address` means, as a phrase to follow the peer's name (`offline (connection
 * refused)`), and its fix.
 */
export function describeConnectionFailure(failure: ConnectionFailure, peer: string, address: SshAddress, settings: SshSettings): {what: string; fix: string} {
  const name = knownHostsName(address)
  const knownHosts = withTilde(homedir(), settings.knownHosts)
  switch (failure.kind) {
    case 'host-key-changed':
      return {
        what: `host key changed since it was pinned (${name}${failure.fingerprint ? `, now ${failure.fingerprint}` : ''}): refused`,
        fix: `If ${peer} was reinstalled or its SSH server got a new key, check the new key's fingerprint on ${peer} itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then forget the old one: ${withTilde(homedir(), shellCommand('ssh-keygen', '-R', name, '-f', settings.knownHosts))}. Otherwise something may be in between: do not connect.`,
      }
    case 'host-key-unverified':
      return {
        what: `host key could not be checked against ${knownHosts}`,
        fix: `Make sure ${knownHosts} can be written (each peer's key is recorded there at first contact), then try again.`,
      }
    case 'denied':
      return {
        what: 'login refused (publickey)',
        fix: `Put this machine's public key in ${peer}'s ~/.ssh/authorized_keys (fleet enroll --ssh-key on each machine does it for the fleet), or name the key to use in ${IDENTITY_VARIABLE}.`,
      }
    case 'offline':
      return {
        what: `offline (${failure.reason})`,
        fix: `Check that ${peer} is on and its SSH server listens at ${address.host}${address.port ? ` port ${address.port}` : ''} (on ${peer}, fleet machines address changes the address).`,
      }
  }
}
