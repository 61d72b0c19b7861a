// How fleet's git reaches a forge over SSH: with the person's own ssh (their ~/.ssh/config with its Host aliases,
// ProxyJump, per-host keys and agent; their GIT_SSH_COMMAND or core.sshCommand), plus OpenSSH's connection sharing
// in a directory of fleet's own. The watcher holds one connection to the forge open (ControlMaster, ControlPersist)
// and asks it whether the branch moved through that connection, from this process (see ssh-mux.ts); every other git
// command to the forge uses that connection when it is there, and never leaves one of its own behind.
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, lstatSync, mkdirSync, readdirSync} from 'node:fs'
import {basename, join} from 'node:path'

import {shellWord} from '../errors/shell-command.ts'
import {fleetPaths} from '../platform/paths.ts'
import {run} from '../process/run.ts'
import {advertisedRefs, MasterNotAnswering, stopMaster} from './ssh-mux.ts'

/** How long the watcher's connection outlives its last use: a watcher killed without a word leaves it this long. */
export const CONTROL_PERSIST_SECONDS = 60
/** How long settings read from git's config and ssh's are trusted before they are read again. */
const SETTINGS_TTL_MS = 10 * 60_000
/** A socket path may hold 104 bytes on macOS (108 on Linux), its final NUL included. */
const SOCKET_PATH_MAX = 103
/** ssh's `%C` is 40 hex digits, and ssh first binds `<path>.<16 random characters>`, then renames it. */
const SOCKET_NAME_LENGTH = 40 + 1 + 16

/** A forge reached over SSH, as git reads its address: whom ssh is asked to reach, and the repository's path there. */
export interface SshForge {
  /** `user@host` or `host` (a Host alias of ~/.ssh/config, say), as git passes it to ssh. */
  destination: string
  port?: string
  /** The path git asks `git-upload-pack` for (`~/x` and `~user/x` kept as written). */
  path: string
}

/**
 * The forge's address when git reaches it over SSH: `ssh://[user@]host[:port]/path` (or `git+ssh://`,
 * `ssh+git://`), or `[user@]host:path`; undefined for any other (a path on disk, file://, https://), and for
 * addresses written in ways fleet leaves to git alone (IPv6 brackets, percent-escapes).
 */
export function parseSshForge(url: string): SshForge | undefined {
  if (url.includes('%') || url.includes('[')) return undefined
  const full = /^(?:ssh|git\+ssh|ssh\+git):\/\/(?:([^@/]+)@)?([^:/]+)(?::(\d*))?(\/.*)$/.exec(url)
  if (full) {
    const [, user, host, port, path] = full
    // git drops the slash before a `~`: ssh://host/~/repo asks for `~/repo`.
    return {destination: user ? `${user}@${host}` : host, port: port || undefined, path: path.startsWith('/~') ? path.slice(1) : path}
  }
  if (url.includes('://')) return undefined
  // The scp-like form: a colon before any slash (a slash first makes it a path on disk).
  const short = /^(?:([^@/:]+)@)?([^@/:]+):(.+)$/.exec(url)
  if (!short) return undefined
  const [, user, host, path] = short
  return {destination: user ? `${user}@${host}` : host, path}
}

/** The command git runs on the forge for a fetch or ls-remote, its path quoted as git quotes it. */
export function uploadPackCommand(path: string): string {
  return `git-upload-pack '${path.replaceAll(/['!]/g, (c) => `'\\${c}'`)}'`
}

/**
 * An ssh command line (GIT_SSH_COMMAND, core.sshCommand) as the words the shell git runs it with would pass, when it
 * is plain words fleet can read for certain: bare words of ordinary characters (a leading `~` or `~/` is `home`, as
 * the shell has it), and '…' or "…" quoting (no `$`, backquote or backslash in double quotes). Undefined for
 * anything else (a pipe, a variable, a redirection): such a command is the person's, and left alone.
 */
export function sshCommandWords(command: string, home?: string): string[] | undefined {
  const words: string[] = []
  let word: string | undefined
  for (let i = 0; i < command.length; i++) {
    const c = command[i]
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (c === '~' && word === undefined && home && /^(?:[\s/]|$)/.test(command.slice(i + 1, i + 2))) {
      word = home
    } else if (c === "'" || c === '"') {
      const end = command.indexOf(c, i + 1)
      const quoted = command.slice(i + 1, end)
      if (end < 0 || (c === '"' && /[$`\\]/.test(quoted))) return undefined
      word = (word ?? '') + quoted
      i = end
    } else if (/[\w@%+=:,./~-]/.test(c)) {
      word = (word ?? '') + c
    } else {
      return undefined
    }
  }
  if (word !== undefined) words.push(word)
  return words.length > 0 ? words : undefined
}

/** ssh's options that take an argument (OpenSSH 9): in `-lgit`, `git` is the argument, not more options. */
const SSH_OPTIONS_WITH_ARGUMENT = new Set('BbcDEeFIiJLlmOopQRSWw')

/**
 * Whether an ssh command (as words) already decides on connection sharing itself (`-M`, `-S`, `-O`, or a Control…
 * option), or ends its options early (`--`): fleet adds nothing to such a command.
 */
function decidesSharing(words: string[]): boolean {
  for (let i = 1; i < words.length; i++) {
    const word = words[i]
    if (word === '--') return true
    if (!word.startsWith('-')) continue
    for (let k = 1; k < word.length; k++) {
      const flag = word[k]
      if ('MSO'.includes(flag)) return true
      if (!SSH_OPTIONS_WITH_ARGUMENT.has(flag)) continue
      const argument = k + 1 < word.length ? word.slice(k + 1) : words[++i]
      if (flag === 'o' && /^\s*control(master|path|persist)\b/i.test(argument ?? '')) return true
      break
    }
  }
  return false
}

/** The person's ssh command, as git would choose it, when fleet may add options to it (see sshCommandWords). */
export interface PersonSsh {
  /** Exactly as the person wrote it: what fleet's GIT_SSH_COMMAND starts with. */
  command: string
  /** The words the shell makes of it (a leading `~` expanded): what fleet runs ssh with to ask where a socket is. */
  words: string[]
}

/** What git's configuration says about ssh where git runs (`cwd`), read once in a while (one process). */
interface SshConfig {
  sshCommand?: string
  variant?: string
}

const configs = new Map<string, {at: number; config: Promise<SshConfig>}>()

function sshConfig(cwd: string, env: NodeJS.ProcessEnv): Promise<SshConfig> {
  // Where git finds its configuration files, besides `cwd`.
  const key = JSON.stringify([cwd, env.HOME, env.XDG_CONFIG_HOME, env.GIT_CONFIG_GLOBAL, env.GIT_CONFIG_SYSTEM, env.GIT_CONFIG_NOSYSTEM, env.GIT_DIR])
  const cached = configs.get(key)
  if (cached && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.config
  const args = ['config', '--get-regexp', String.raw`^(core\.sshcommand|ssh\.variant)$`]
  const config = run('git', args, {cwd, allowFailure: true, env: {...env, LC_ALL: 'C'}}).then(
    (result) => {
      const found: SshConfig = {}
      for (const line of result.stdout.split('\n')) {
        const [key, ...value] = line.split(' ')
        if (key === 'core.sshcommand') found.sshCommand = value.join(' ')
        if (key === 'ssh.variant') found.variant = value.join(' ')
      }
      return found
    },
    () => ({}),
  )
  configs.set(key, {at: Date.now(), config})
  return config
}

/**
 * The ssh command git would use in `cwd` (GIT_SSH_COMMAND, else core.sshCommand, else `ssh`), when it is OpenSSH's
 * `ssh` given as plain words and leaves connection sharing to fleet. Undefined when the person chose otherwise
 * (GIT_SSH, another ssh variant, a command fleet cannot read for certain, their own sharing): then fleet's git runs
 * exactly as theirs would.
 */
export async function personSsh(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<PersonSsh | undefined> {
  const config = env.GIT_SSH_COMMAND ? {} : await sshConfig(cwd, env)
  const command = env.GIT_SSH_COMMAND || config.sshCommand || (env.GIT_SSH ? undefined : 'ssh')
  const variant = env.GIT_SSH_VARIANT || config.variant
  if (command === undefined || (variant && !['ssh', 'auto'].includes(variant))) return undefined
  const words = sshCommandWords(command, env.HOME)
  if (!words || basename(words[0]) !== 'ssh' || decidesSharing(words)) return undefined
  return {command, words}
}

/**
 * Whether `dir` is a directory of this user's that nobody else can enter; with `create`, made (mode 0700) if it is
 * missing. Without, a missing one is fine too: no master can listen in it.
 */
function privateDirectory(dir: string, create: boolean): boolean {
  try {
    if (create) mkdirSync(dir, {recursive: true, mode: 0o700})
    else if (!existsSync(dir)) return true
    const stat = lstatSync(dir)
    if (!stat.isDirectory() || (process.getuid !== undefined && stat.uid !== process.getuid())) return false
    if ((stat.mode & 0o077) === 0) return true
    if (create) chmodSync(dir, 0o700)
    return create
  } catch {
    return false
  }
}

const fitsSocket = (dir: string) => Buffer.byteLength(dir) + 1 + SOCKET_NAME_LENGTH <= SOCKET_PATH_MAX

/**
 * The directory for fleet's ssh control sockets on this machine: `ssh` in fleet's state directory, or, when that
 * path is too long for a socket, one named after it under /tmp/fleet-<uid>. Made (0700) with `create` (only the
 * watcher starts masters); undefined when it is not this user's alone, or no path fits (then git connects without
 * sharing, as before).
 */
export function controlDirectory(env: NodeJS.ProcessEnv = process.env, create = false): string | undefined {
  const {stateDir} = fleetPaths(env)
  const own = join(stateDir, 'ssh')
  if (fitsSocket(own)) return privateDirectory(own, create) ? own : undefined
  const base = join('/tmp', `fleet-${process.getuid?.() ?? 'user'}`)
  const dir = join(base, createHash('sha256').update(stateDir).digest('hex').slice(0, 12))
  return fitsSocket(dir) && privateDirectory(base, create) && privateDirectory(dir, create) ? dir : undefined
}

/** `-o ControlPath=…` for a directory: ssh reads `%` in it as the start of a token. */
const controlPathOption = (dir: string) => `ControlPath=${dir.replaceAll('%', '%%')}/%C`

/** The watcher holds the connections to the forge open (see holdSharedConnections). */
let held = false

/**
 * From now on, this process (the watcher) keeps a connection to an SSH forge open and shares it: git commands start
 * one when there is none (ControlMaster=auto, living on CONTROL_PERSIST_SECONDS after its last use), and the checks
 * of sharedAdvertisedRefs go through it. Until then, git only uses such a connection when one is there.
 */
export function holdSharedConnections(): void {
  held = true
}

/**
 * Let go of the shared connections: every master in fleet's control directory (only a process that holds them starts
 * one) stops listening at once (its socket is removed) and ends when the sessions it carries have finished. Call
 * once the last git command to the forge is done; `env` is the one the connections were made with (its HOME).
 */
export async function releaseSharedConnections(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  held = false
  routes.clear()
  const dir = controlDirectory(env)
  let sockets: string[] = []
  try {
    if (dir) sockets = readdirSync(dir).map((name) => join(dir, name))
  } catch {
    // No directory: no master.
  }
  await Promise.all(sockets.map((socket) => stopMaster(socket, 'stop-listening')))
}

/**
 * The environment a git command that talks to the forge gets (GIT_SSH_COMMAND): the person's ssh command with
 * connection sharing added, or nothing when theirs is to be left alone (see personSsh) or no control directory can
 * be had. `cwd` is where git runs (its configuration is read there); `env` is the environment git would have.
 */
export async function forgeSshEnv(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  const person = await personSsh(cwd, env)
  const dir = person && controlDirectory(env, held)
  if (!person || !dir) return {}
  const options = held
    ? ['ControlMaster=auto', `ControlPersist=${CONTROL_PERSIST_SECONDS}`, controlPathOption(dir), 'ServerAliveInterval=15']
    : ['ControlMaster=no', controlPathOption(dir)]
  return {GIT_SSH_COMMAND: [person.command, ...options.flatMap((option) => ['-o', shellWord(option)])].join(' ')}
}

/** Where ssh puts the control socket for a forge: `ssh -G` expands `%C` from the host, port and user it resolves. */
async function controlSocket(forge: SshForge, person: PersonSsh, dir: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const [file, ...args] = person.words
  const port = forge.port ? ['-p', forge.port] : []
  const result = await run(file, [...args, '-o', controlPathOption(dir), '-G', ...port, forge.destination], {env, allowFailure: true, timeout: 10_000}).catch(
    () => undefined,
  )
  const path = result && /^controlpath (.+)$/m.exec(result.stdout)?.[1]
  return path?.startsWith(`${dir}/`) && !path.includes('%') ? path : undefined
}

/** What a forge check through a shared connection needs, worked out once in a while (see SETTINGS_TTL_MS). */
interface SharedRoute {
  forge: SshForge
  /** Where the master listens, when ssh can say. */
  socket: string | undefined
}

const routes = new Map<string, {at: number; route: Promise<SharedRoute | undefined>}>()

function sharedRoute(url: string, env: NodeJS.ProcessEnv): Promise<SharedRoute | undefined> {
  const key = JSON.stringify([url, env.HOME, env.XDG_STATE_HOME, env.GIT_SSH_COMMAND, env.GIT_SSH, env.GIT_SSH_VARIANT])
  const cached = routes.get(key)
  if (cached && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.route
  const route = (async () => {
    const forge = parseSshForge(url)
    const person = forge && (await personSsh(process.cwd(), env))
    const dir = person && controlDirectory(env, true)
    return forge && person && dir ? {forge, socket: await controlSocket(forge, person, dir, env)} : undefined
  })()
  routes.set(key, {at: Date.now(), route})
  return route
}

/**
 * The refs an SSH forge advertises (ref → commit), asked through the watcher's shared connection without starting a
 * process; undefined when that cannot be done now (no connection held or open yet, an address or ssh command fleet
 * leaves alone, a master that did not answer: it is ended), so that the caller asks with git, which starts one.
 */
export async function sharedAdvertisedRefs(url: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string> | undefined> {
  if (!held) return undefined
  const route = await sharedRoute(url, env)
  if (!route?.socket) return undefined
  try {
    return await advertisedRefs(route.socket, uploadPackCommand(route.forge.path), timeoutMs)
  } catch (error) {
    // A master that does not answer may hold a connection the network dropped: end it, and the next git starts afresh.
    if (error instanceof MasterNotAnswering) await stopMaster(route.socket, 'terminate')
    return undefined
  }
}
