// A clone of the forge outside the fleet, where a person works by hand with plain git (a third machine, a person at a
// terminal), and the fix a failed command prints, as a person finds it in the output.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {DEFAULT_BRANCH} from '../../src/lib/manifest/schema.ts'
import {MANIFEST_RELATIVE_PATH} from '../../src/lib/manifest/store.ts'
import type {Forge} from './forge.ts'

export class HandClone {
  readonly dir: string
  /** git's environment here: nothing from the host's configuration, and an author of its own, `hand`. */
  readonly env: NodeJS.ProcessEnv

  private constructor(dir: string, env: NodeJS.ProcessEnv) {
    this.dir = dir
    this.env = env
  }

  /** Clone the forge's branch into `dir`, with `home` as HOME (where git would look for a configuration). */
  static async make(forge: Forge, dir: string, home: string): Promise<HandClone> {
    const env = {
      HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'hand',
      GIT_AUTHOR_EMAIL: 'hand@example.invalid',
      GIT_COMMITTER_NAME: 'hand',
      GIT_COMMITTER_EMAIL: 'hand@example.invalid',
    }
    await execa('git', ['clone', '--quiet', '--branch', DEFAULT_BRANCH, forge.url, dir], {env})
    return new HandClone(dir, env)
  }

  async git(args: string[]): Promise<string> {
    return String((await execa('git', ['-C', this.dir, ...args], {env: this.env})).stdout)
  }

  /** Commit everything as it stands with `message` and push it to the forge's branch. */
  async pushAll(message: string): Promise<void> {
    await this.git(['add', '--all'])
    await this.git(['commit', '--quiet', '-m', message])
    await this.push()
  }

  async push(): Promise<void> {
    await this.git(['push', '--quiet', 'origin', `HEAD:${DEFAULT_BRANCH}`])
  }

  /** Pull, change the manifest's text, commit and push; returns the new commit. */
  async pushManifest(change: (text: string) => string, message: string): Promise<string> {
    await this.git(['pull', '--quiet', '--ff-only', 'origin', DEFAULT_BRANCH])
    const text = await this.git(['show', `HEAD:${MANIFEST_RELATIVE_PATH}`])
    writeFileSync(join(this.dir, MANIFEST_RELATIVE_PATH), change(text + '\n'))
    await this.pushAll(message)
    return this.git(['rev-parse', 'HEAD'])
  }
}

/** The git command a failed command's fix (its `Fix: ` line) quotes between backticks. */
export function printedGitCommand(stderr: string): string {
  const fix = stderr.split('\n').find((line) => line.startsWith('Fix: '))
  assert.ok(fix, `a fix is printed:\n${stderr}`)
  const command = /`(git -C [^`]+)`/.exec(fix)?.[1]
  assert.ok(command, `the fix quotes a command:\n${fix}`)
  return command
}
