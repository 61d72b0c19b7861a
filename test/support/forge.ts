// A forge for a scenario: a bare git repository on disk, reached over file:// (or as a plain path).
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {DEFAULT_BRANCH} from '../../src/lib/manifest/schema.ts'

export class Forge {
  readonly path: string
  readonly url: string

  constructor(path: string, url?: string) {
    this.path = path
    this.url = url ?? `file://${path}`
  }

  /** A forge made the way people make one: a plain `git init --bare` (its HEAD names git's default, `master` here). */
  static async create(dir: string, name = 'forge.git'): Promise<Forge> {
    const path = join(dir, name)
    mkdirSync(dir, {recursive: true})
    await execa('git', ['init', '--quiet', '--bare', path], {env: {GIT_CONFIG_NOSYSTEM: '1', HOME: dir}})
    return new Forge(path)
  }

  async git(args: string[]): Promise<string> {
    return String((await execa('git', ['--git-dir', this.path, ...args], {env: {LC_ALL: 'C'}})).stdout)
  }

  /** The commit the forge's main branch points at, or '' when it has none. */
  async head(branch = DEFAULT_BRANCH): Promise<string> {
    return (await execa('git', ['--git-dir', this.path, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], {reject: false})).stdout.toString().trim()
  }

  /** A file as the forge's branch has it, or undefined. */
  async show(path: string, ref = DEFAULT_BRANCH): Promise<string | undefined> {
    const result = await execa('git', ['--git-dir', this.path, 'show', `${ref}:${path}`], {reject: false, encoding: 'utf8', stripFinalNewline: false})
    return result.exitCode === 0 ? String(result.stdout) : undefined
  }

  async files(ref = DEFAULT_BRANCH): Promise<string[]> {
    return (await this.git(['ls-tree', '-r', '--name-only', '-z', ref])).split('\0').filter(Boolean)
  }

  /** Every version of every file in every commit, for checks over the whole history. */
  async allBlobs(): Promise<Array<{commit: string; path: string; content: Buffer}>> {
    const commits = (await this.git(['rev-list', '--all'])).split('\n').filter(Boolean)
    const blobs: Array<{commit: string; path: string; content: Buffer}> = []
    for (const commit of commits) {
      for (const path of (await this.git(['ls-tree', '-r', '--name-only', '-z', commit])).split('\0').filter(Boolean)) {
        const content = (await execa('git', ['--git-dir', this.path, 'show', `${commit}:${path}`], {encoding: 'buffer', stripFinalNewline: false})).stdout
        blobs.push({commit, path, content: Buffer.from(content)})
      }
    }
    return blobs
  }
}
