// Counting each machine's forge requests where the forge serves them (BENCHMARKS.md, "Counting forge requests").
import {mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {shellWord} from '../../dist/lib/errors/shell-command.js'

/** A log of forge requests, one line each: "<kind> <label>". */
export interface RequestLog {
  log: string
}

export interface ForgeRequest {
  kind: 'upload-pack' | 'receive-pack' | 'other'
  /** The machine's HOME (or the label of the ssh route's probe key). */
  home: string
}

/** How each transport's requests are counted, for the reports. */
export const REQUEST_METHOD = {
  file: 'GIT_EXEC_PATH → a copy of git\'s exec-path whose git-upload-pack / git-receive-pack append "<kind> $HOME" to a log, then exec the real one: one line per ls-remote, fetch or push',
  ssh: 'sshd forced command: each machine logs in with a key of its own, listed in authorized_keys with command="<wrapper> <its HOME>"; the wrapper appends "<kind> <HOME>" to a log (kind from $SSH_ORIGINAL_COMMAND), then eval-execs the original command: one line per ls-remote, fetch or push (a GIT_EXEC_PATH wrapper is never reached through sshd: no client env gets there, and it starts git-upload-pack by PATH)',
}

let realExecPath: string | undefined

/** git's own exec-path (`git --exec-path`), asked once. */
export async function gitExecPath(): Promise<string> {
  realExecPath ??= String((await execa('git', ['--exec-path'])).stdout).trim()
  return realExecPath
}

/**
 * Over file://: an exec-path of our own for GIT_EXEC_PATH, git's with git-upload-pack and git-receive-pack replaced
 * by wrappers that log "<kind> $HOME" and exec the real one. (A wrapper earlier on PATH is never reached: git puts
 * its exec-path first.)
 */
export async function execPathCounter(dir: string): Promise<RequestLog & {execPath: string}> {
  const real = await gitExecPath()
  const execPath = join(dir, 'exec-path')
  const log = join(dir, 'requests.log')
  mkdirSync(execPath, {recursive: true})
  writeFileSync(log, '')
  const counted = ['git-upload-pack', 'git-receive-pack']
  for (const entry of readdirSync(real)) if (!counted.includes(entry)) symlinkSync(join(real, entry), join(execPath, entry))
  for (const name of counted) {
    const script = `#!/bin/sh\n# fleet bench: count this forge request, then be the real ${name}.\necho "${name.slice(4)} $HOME" >> '${log}'\nexec '${join(real, name)}' "$@"\n`
    writeFileSync(join(execPath, name), script, {mode: 0o755})
  }
  return {execPath, log}
}

/**
 * Over ssh://: a wrapper for sshd to run as the forced command of every counted key (sshd passes on none of the
 * client's environment, so GIT_EXEC_PATH cannot reach the server side). `authorizedKey` is the authorized_keys line
 * that counts a public key's logins under `label`.
 */
export function sshCounter(dir: string): RequestLog & {authorizedKey(label: string, publicKey: string): string} {
  mkdirSync(dir, {recursive: true})
  const log = join(dir, 'requests.log')
  writeFileSync(log, '')
  const wrapper = join(dir, 'count-ssh-request')
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      '# fleet bench: sshd runs this for every login with a counted key (a forced command in authorized_keys):',
      '# count the request under the label it is given, then be what the client asked for.',
      'case "$SSH_ORIGINAL_COMMAND" in',
      '  git-upload-pack\\ *|git\\ upload-pack\\ *) kind=upload-pack ;;',
      '  git-receive-pack\\ *|git\\ receive-pack\\ *) kind=receive-pack ;;',
      '  *) kind=other ;;',
      'esac',
      `echo "$kind $1" >> ${shellWord(log)}`,
      'eval "exec $SSH_ORIGINAL_COMMAND"',
      '',
    ].join('\n'),
    {mode: 0o755},
  )
  const authorizedKey = (label: string, publicKey: string) => {
    // The forced command sits in double quotes in authorized_keys: nothing in it may need escaping there.
    if (/["\\\n]/.test(wrapper + label)) throw new Error(`cannot put ${label} into a forced command`)
    const options = [`command="${shellWord(wrapper)} ${shellWord(label)}"`, 'no-pty', 'no-port-forwarding', 'no-agent-forwarding', 'no-X11-forwarding']
    return `${options.join(',')} ${publicKey}`
  }
  return {log, authorizedKey}
}

/** Every request in the log so far, in order. */
export function requests(counter: RequestLog): ForgeRequest[] {
  return readFileSync(counter.log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ')
      return {kind: line.slice(0, space) as ForgeRequest['kind'], home: line.slice(space + 1)}
    })
}
