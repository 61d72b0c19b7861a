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

  /**
   * Every version of every file in every commit, for checks over the whole history: each commit (newest first) with
   * its files in the order `git ls-tree -r` lists them. Read with two git processes (every object of the forge at once),
   * not one per file and commit.
   */
  async allBlobs(): Promise<Array<{commit: string; path: string; content: Buffer}>> {
    const commits = (await this.git(['rev-list', '--all'])).split('\n').filter(Boolean)
    const objects = await this.allObjects()
    const object = (sha: string, type: string): Buffer => {
      const found = objects.get(sha)
      if (found?.type !== type) throw new Error(`the forge has no ${type} ${sha}`)
      return found.content
    }
    const blobs: Array<{commit: string; path: string; content: Buffer}> = []
    const walk = (commit: string, tree: string, prefix: string): void => {
      const content = object(tree, 'tree')
      // A tree is a list of `<mode> <name>\0<20-byte id>`.
      for (let at = 0; at < content.length;) {
        const space = content.indexOf(0x20, at)
        const nul = content.indexOf(0, space)
        const mode = content.toString('latin1', at, space)
        const path = prefix + content.toString('utf8', space + 1, nul)
        const sha = content.toString('hex', nul + 1, nul + 21)
        at = nul + 21
        if (mode === '40000') walk(commit, sha, `${path}/`)
        else if (mode !== '160000') blobs.push({commit, path, content: object(sha, 'blob')})
      }
    }
    for (const commit of commits) {
      const tree = /^tree ([0-9a-f]{40})$/m.exec(object(commit, 'commit').toString('latin1'))?.[1]
      if (!tree) throw new Error(`commit ${commit} names no tree`)
      walk(commit, tree, '')
    }
    return blobs
  }

  /** Every object in the forge (reachable or not), by id: `git cat-file --batch-all-objects --batch`. */
  private async allObjects(): Promise<Map<string, {type: string; content: Buffer}>> {
    const run = await execa('git', ['--git-dir', this.path, 'cat-file', '--batch-all-objects', '--batch'], {encoding: 'buffer', stripFinalNewline: false})
    const out = Buffer.from(run.stdout)
    const objects = new Map<string, {type: string; content: Buffer}>()
    // Each object: `<id> <type> <size>\n<content>\n`.
    for (let at = 0; at < out.length;) {
      const newline = out.indexOf(0x0a, at)
      const [sha, type, size] = out.toString('latin1', at, newline).split(' ')
      const start = newline + 1
      objects.set(sha, {type, content: out.subarray(start, start + Number(size))})
      at = start + Number(size) + 1
    }
    return objects
  }
}
