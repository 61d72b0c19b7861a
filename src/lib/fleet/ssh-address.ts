// A machine's SSH address in the roster (`sshAddress`): how its peers reach it over SSH, for plugins that copy files
// between machines. Written `[user@]host[:port]` or `ssh://[user@]host[:port]`; an IPv6 host goes in brackets.
import {UsageError} from '../errors/index.ts'

/** A parsed SSH address: `host` without brackets, `user` and `port` when the address names them. */
export interface SshAddress {
  user?: string
  host: string
  port?: number
}

const ADDRESS = /^(?:ssh:\/\/)?(?:([A-Za-z0-9._][A-Za-z0-9._-]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?$/

/**
 * Parse `[user@]host[:port]` (or the same after `ssh://`). Throws UsageError (exit 2), saying why and the accepted
 * forms, for anything else: a host that could be read as an ssh option (`-oProxyCommand=…`), spaces, a port outside
 * 1-65535, an IPv6 host without its brackets.
 */
export function parseSshAddress(text: string): SshAddress {
  const match = ADDRESS.exec(text.trim())
  const port = match?.[3] === undefined ? undefined : Number(match[3])
  if (!match || (port !== undefined && (port < 1 || port > 65_535))) {
    const why = match ? `its port ${match[3]} is outside 1-65535` : notAnAddressBecause(text.trim())
    throw new UsageError(
      `"${text}" is not an SSH address${why ? `: ${why}` : ''}.`,
      'Write it as host, user@host or user@host:port (for example me@laptop.local:2222), with a port from 1 to 65535 and an IPv6 host in brackets (me@[fe80::1]:22).',
    )
  }
  const host = match[2].replace(/^\[(.*)\]$/, '$1')
  return {...(match[1] ? {user: match[1]} : {}), host, ...(port === undefined ? {} : {port})}
}

/** Why `text`, which ADDRESS does not match, is not an address, when it is one of the common slips; else undefined. */
function notAnAddressBecause(text: string): string | undefined {
  const host = text.replace(/^ssh:\/\//, '').replace(/^[^@]*@/, '')
  if (text === '') return 'it is empty'
  if (/\s/.test(text)) return 'it has a space in it'
  if (text.startsWith('-')) return 'ssh would read it as an option'
  if (/^[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$/.test(host)) return `an IPv6 host goes in brackets ([${host}])`
  const port = /:([^:\]]*)$/.exec(host)?.[1]
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return `its port "${port}" is not a number from 1 to 65535`
  return undefined
}

/** `user@host` (brackets around an IPv6 host, as rsync takes it): the destination for ssh and rsync; the port goes in `-p`. */
export function sshDestination(address: SshAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return address.user ? `${address.user}@${host}` : host
}
