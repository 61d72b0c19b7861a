// A private npm registry of the test's own: verdaccio on 127.0.0.1 (a free port), its storage and config in a temp
// dir. Fleet's scope (@dotfleet/*) and the names a test lists are local only, so a package of that name on the public
// registry never stands in for a missing one; every other package is proxied to the registry npm is configured with
// here (`npm config get registry`, read now and never written into the repository). npm keeps its real cache, so a
// proxied package npm has already fetched comes from the cache, not the network.
import {randomBytes} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa, type ResultPromise} from 'execa'
import {stringify} from 'yaml'

import {REPO_ROOT} from './cli.ts'
import {freePort} from './sshd.ts'

const HOST = '127.0.0.1'
const VERDACCIO = join(REPO_ROOT, 'node_modules/verdaccio/bin/verdaccio')
const READY_TIMEOUT_MS = 30_000
const START_ATTEMPTS = 3

/** One npm setting as npm here has it (the person's or CI's own configuration, not the test machines'). */
async function npmSetting(key: string): Promise<string> {
  return (await execa('npm', ['config', 'get', key])).stdout.trim()
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class Registry {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string
  /** npm's real cache directory: pass it to every npm the test runs (npm_config_cache). */
  readonly npmCache: string
  private readonly dir: string
  private readonly child: ResultPromise
  private readonly log: {text: string}
  /** A user's npmrc holding the registry and a throwaway token, for `npm publish`. */
  private readonly publishConfig: string

  private constructor(dir: string, url: string, npmCache: string, child: ResultPromise, log: {text: string}, publishConfig: string) {
    this.dir = dir
    this.url = url
    this.npmCache = npmCache
    this.child = child
    this.log = log
    this.publishConfig = publishConfig
  }

  /**
   * Start verdaccio with its files in `dir`. `@dotfleet/*` and each of `localOnly` are served from its own storage
   * alone (a name nobody published there is missing, whatever the public registry has); every other package is
   * proxied to npm's configured registry.
   */
  static async start(dir: string, options: {localOnly?: string[]} = {}): Promise<Registry> {
    mkdirSync(dir, {recursive: true})
    const [uplink, npmCache] = await Promise.all([npmSetting('registry'), npmSetting('cache')])
    const local = {access: '$all', publish: '$authenticated', unpublish: '$authenticated'}
    const packages: Record<string, object> = {}
    for (const name of ['@dotfleet/*', ...(options.localOnly ?? [])]) packages[name] = local
    packages['**'] = {...local, proxy: 'upstream'}
    let lastError = ''
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const port = await freePort()
      const config = join(dir, 'config.yaml')
      writeFileSync(
        config,
        stringify({
          storage: join(dir, 'storage'),
          auth: {htpasswd: {file: join(dir, 'htpasswd'), max_users: 10}},
          uplinks: {upstream: {url: uplink, timeout: '60s'}},
          packages,
          listen: `${HOST}:${port}`,
          log: {type: 'stdout', format: 'pretty', level: 'warn'},
          publish: {allow_offline: true},
        }),
      )
      const log = {text: ''}
      const child = execa(process.execPath, [VERDACCIO, '--config', config, '--listen', `${HOST}:${port}`], {
        cwd: dir,
        reject: false,
        stdin: 'ignore',
        all: true,
        env: {NODE_ENV: 'production'},
      })
      child.all?.on('data', (chunk: Buffer) => {
        log.text += chunk.toString()
      })
      const url = `http://${HOST}:${port}/`
      if (await ready(url, child)) {
        const publishConfig = join(dir, 'publish.npmrc')
        const token = await addUser(url)
        writeFileSync(publishConfig, `registry=${url}\n//${HOST}:${port}/:_authToken=${token}\n`, {mode: 0o600})
        return new Registry(dir, url, npmCache, child, log, publishConfig)
      }
      child.kill('SIGTERM')
      await child
      lastError = log.text
    }
    throw new Error(`verdaccio did not start:\n${lastError}`)
  }

  /** What every npm (and fleet) of the test needs: the real cache; add the registry the way the test means to give it. */
  get env(): NodeJS.ProcessEnv {
    return {npm_config_cache: this.npmCache}
  }

  /** Publish a package: a directory with its package.json, or a tarball made by `npm pack`. */
  async publish(packageDirOrTarball: string): Promise<void> {
    const result = await execa('npm', ['publish', packageDirOrTarball, '--userconfig', this.publishConfig, '--registry', this.url, '--access', 'public'], {
      cwd: this.dir,
      reject: false,
      env: {npm_config_cache: this.npmCache},
    })
    if (result.exitCode !== 0) throw new Error(`npm publish ${packageDirOrTarball} failed:\n${result.stderr}\n--- verdaccio\n${this.log.text}`)
  }

  /** `npm pack` a package directory (a workspace of this repository, once built) into the registry's directory; returns the tarball. */
  async pack(packageDir: string): Promise<string> {
    const {stdout} = await execa('npm', ['pack', '--json', '--pack-destination', this.dir], {cwd: packageDir, env: {npm_config_cache: this.npmCache}})
    const [{filename}] = JSON.parse(stdout) as Array<{filename: string}>
    return join(this.dir, filename)
  }

  /** What verdaccio printed (warnings and errors), for a failure message. */
  get output(): string {
    return this.log.text
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM')
    await this.child
  }
}

/** Whether verdaccio answers its ping within READY_TIMEOUT_MS (false at once if it exited). */
async function ready(url: string, child: ResultPromise): Promise<boolean> {
  let exited = false
  void child.finally(() => {
    exited = true
  })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!exited && Date.now() < deadline) {
    try {
      if ((await fetch(`${url}-/ping`, {signal: AbortSignal.timeout(1000)})).ok) return true
    } catch {
      // Not listening yet.
    }
    await sleep(100)
  }
  return false
}

/** A throwaway user on the registry (its htpasswd lives in the temp dir); returns the token npm publishes with. */
async function addUser(url: string): Promise<string> {
  const name = 'fleet-test'
  const response = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({name, password: randomBytes(18).toString('base64url'), type: 'user', roles: []}),
  })
  const body = (await response.json()) as {token?: string; error?: string}
  if (!response.ok || !body.token) throw new Error(`the registry refused a test user (${response.status}): ${JSON.stringify(body)}`)
  return body.token
}
