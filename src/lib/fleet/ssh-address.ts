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
 * Parse `[user@]host[:port]` (or the same after `ssh://`). Throws UsageError (exit 2), saying the accepted forms, for
 * anything else: a host that could be read as an ssh option (`-oProxyCommand=…`), spaces, a port outside 1-65535.
 */
export function parseSshAddress(text: string): SshAddress {
  const match = ADDRESS.exec(text.trim())
  const port = match?.[3] === undefined ? undefined : Number(match[3])
  if (!match || (port !== undefined && (port < 1 || port > 65_535))) {
    throw new UsageError(`"${text}" is not an SSH address.`, 'Write it as host, user@host or user@host:port (for example me@laptop.local:2222).')
  }
  const host = match[2].replace(/^\[(.*)\]$/, '$1')
  return {...(match[1] ? {user: match[1]} : {}), host, ...(port === undefined ? {} : {port})}
}

/** `user@host` (brackets around an IPv6 host, as rsync takes it): the destination for ssh and rsync; the port goes in `-p`. */
export function sshDestination(address: SshAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return address.user ? `${address.user}@${host}` : host
}
