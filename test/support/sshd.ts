// An sshd of the test's own, so a forge can be reached over ssh:// — bound to 127.0.0.1 on a free high port,
// with its own host key, client key, authorized_keys and known_hosts in a temp dir. Nothing leaves loopback.
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {userInfo} from 'node:os'
import {isAbsolute, join} from 'node:path'

import {execa, type ResultPromise} from 'execa'

export const SSHD_BIN = process.env.FLEET_TEST_SSHD ?? '/usr/sbin/sshd'
const HOST = '127.0.0.1'
const START_ATTEMPTS = 5
const READY_TIMEOUT_MS = 10_000

/** A port nobody is listening on right now (bind to port 0, note the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('no port from the OS'))))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: HOST, port})
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Quote for the POSIX shell git runs GIT_SSH_COMMAND with. */
function shQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

export class Sshd {
  readonly dir: string
  readonly port: number
  readonly user: string
  /** The client's private key; its public half is the only authorized key. */
  readonly clientKey: string
  readonly knownHosts: string
  private child: ResultPromise | undefined
  private readonly log: {text: string}

  private constructor(dir: string, port: number, child: ResultPromise, log: {text: string}) {
    this.dir = dir
    this.port = port
    this.user = userInfo().username
    this.clientKey = join(dir, 'client_ed25519')
    this.knownHosts = join(dir, 'known_hosts')
    this.child = child
    this.log = log
  }

  /**
   * Start an sshd whose files live in `dir` (created if missing). It accepts its own client key, or with
   * `authorizedKeysFile` the keys in that file instead (a simulated machine's ~/.ssh/authorized_keys, say).
   */
  static async start(dir: string, options: {authorizedKeysFile?: string} = {}): Promise<Sshd> {
    mkdirSync(dir, {recursive: true})
    // sshd insists on its privilege-separation directory even when it does not drop privileges.
    mkdirSync('/run/sshd', {recursive: true, mode: 0o755})
    const hostKey = join(dir, 'ssh_host_ed25519_key')
    const clientKey = join(dir, 'client_ed25519')
    const authorizedKeys = join(dir, 'authorized_keys')
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-test-host', '-f', hostKey])
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-test-client', '-f', clientKey])
    writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`), {mode: 0o600})
    writeFileSync(join(dir, 'known_hosts'), '', {mode: 0o600})

    let lastError = ''
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const port = await freePort()
      const config = join(dir, 'sshd_config')
      writeFileSync(
        config,
        [
          `ListenAddress ${HOST}:${port}`,
          `HostKey ${hostKey}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${options.authorizedKeysFile ?? authorizedKeys}`,
          // The post-quantum default (sntrup761x25519) costs ~90 ms a connection on a slow CI machine, and
          // every git fetch or push is a new connection; what is under test is the forge, not the key exchange.
          'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org',
          'AuthenticationMethods publickey',
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          'UsePAM no',
          'StrictModes no',
          'PrintMotd no',
          'PrintLastLog no',
          'X11Forwarding no',
          'AllowTcpForwarding no',
          'AllowAgentForwarding no',
          'PermitTTY no',
          'UseDNS no',
          'LogLevel VERBOSE',
          '',
        ].join('\n'),
      )
      const log = {text: ''}
      // sshd re-executes itself, so it must be started by its absolute path.
      const child = execa(SSHD_BIN, ['-D', '-e', '-f', config], {reject: false, stdin: 'ignore', all: true, buffer: false, cleanup: true})
      child.all?.on('data', (chunk: Buffer) => {
        log.text += chunk.toString()
      })
      let exited = false
      void child.then(() => {
        exited = true
      })

      const deadline = Date.now() + READY_TIMEOUT_MS
      while (!exited && Date.now() < deadline) {
        if (await canConnect(port)) return new Sshd(dir, port, child, log)
        await sleep(25)
      }
      if (!exited) {
        child.kill('SIGKILL')
        await child
        throw new Error(`sshd on ${HOST}:${port} did not accept connections within ${READY_TIMEOUT_MS} ms\n${log.text}`)
      }
      lastError = log.text
      // Someone took the port between our probe and sshd's bind: try another one. Anything else is fatal.
      if (!/Address already in use|Bind to port .* failed|Cannot bind any address/i.test(log.text)) break
    }
    throw new Error(`sshd (${SSHD_BIN}) would not start:\n${lastError}`)
  }

  /** What sshd has printed so far (with -e, its log goes to stderr), for failure messages. */
  get output(): string {
    return this.log.text
  }

  get running(): boolean {
    return this.child !== undefined
  }

  /**
   * A value for GIT_SSH_COMMAND (git runs it through sh): this sshd's client key, its own known_hosts, no
   * user or system ssh config, no agent, never a prompt. OpenSSH takes ~/.ssh from the passwd entry, not
   * from $HOME, which is why a simulated machine needs this rather than its HOME.
   * Note: ssh keeps the first -p it is given, and git adds the URL's port after this command's, so the -p
   * here wins over the port in an ssh:// URL — use it with this sshd's url(), not with another port.
   */
  get gitSshCommand(): string {
    return ['ssh', ...this.clientOptions(this.clientKey)].map(shQuote).join(' ')
  }

  /** ssh's options to reach this sshd with `key`: its own known_hosts, no config, no agent, never a prompt. */
  clientOptions(key: string): string[] {
    const options = ['IdentitiesOnly=yes', 'IdentityAgent=none', `UserKnownHostsFile=${this.knownHosts}`, 'StrictHostKeyChecking=accept-new']
    options.push('BatchMode=yes', 'ConnectTimeout=5', 'LogLevel=ERROR')
    return ['-F', '/dev/null', '-i', key, ...options.flatMap((option) => ['-o', option]), '-p', String(this.port)]
  }

  /** The environment a Machine needs to reach this sshd: `new Machine(root, name, sshd.env)`. */
  get env(): NodeJS.ProcessEnv {
    return {GIT_SSH_COMMAND: this.gitSshCommand}
  }

  /** ssh://user@127.0.0.1:port/abs/path for a bare repository at an absolute path. */
  url(path: string): string {
    if (!isAbsolute(path)) throw new Error(`Sshd.url needs an absolute path, got ${path}`)
    return `ssh://${this.user}@${HOST}:${this.port}${path}`
  }

  /** Stop sshd (and wait for it to exit). Safe to call more than once. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    this.child = undefined
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    try {
      await child
    } finally {
      clearTimeout(timer)
    }
  }
}
