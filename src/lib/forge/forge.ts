// The forge: any git remote, or by default a bare repository in fleet's data directory.
import {existsSync, realpathSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {dirname, isAbsolute, join, resolve} from 'node:path'

import {forgeTimeoutMs, initBare, lsRemote, readBranchRef} from '../git/git.ts'
import {sharedAdvertisedRefs} from '../git/ssh.ts'
import type {FleetPaths} from '../platform/paths.ts'

export interface ForgeProbe {
  url: string
  /** The forge has no branches: a new fleet can start there. */
  empty: boolean
  /** Branch names the forge advertises. */
  branches: string[]
}

/** A local path given as the forge is made absolute; URLs (scheme://, user@host:path) are kept as given. */
export function normalizeForge(forge: string, cwd = process.cwd()): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(forge) || /^[^/]+@[^/]+:/.test(forge)) return forge.replace(/\/+$/, '')
  return resolve(cwd, forge)
}

/** Whether two forge addresses name the same repository (local paths are compared after resolving links). */
export function sameForge(a: string, b: string): boolean {
  const local = (x: string) => {
    const path = x.startsWith('file://') ? x.slice('file://'.length) : x
    if (!isAbsolute(path)) return x.replace(/\/+$/, '')
    try {
      return realpathSync(path)
    } catch {
      return path.replace(/\/+$/, '')
    }
  }
  return local(a) === local(b)
}

export function isEmbeddedForge(paths: FleetPaths, forge: string): boolean {
  return sameForge(forge, paths.defaultForge)
}

/** Create the embedded forge if it does not exist yet. Returns true when it was created. */
export async function ensureEmbeddedForge(paths: FleetPaths, branch: string): Promise<boolean> {
  if (existsSync(paths.defaultForge)) return false
  await mkdir(dirname(paths.defaultForge), {recursive: true})
  await initBare(paths.defaultForge, branch)
  return true
}

/** Ask the forge what it holds; throws ForgeUnreachableError (exit 3) when it does not answer. */
export async function probeForge(url: string): Promise<ForgeProbe> {
  const refs = await lsRemote(url)
  const branches = [...refs.keys()].filter((r) => r.startsWith('refs/heads/')).map((r) => r.slice('refs/heads/'.length))
  return {url, empty: branches.length === 0, branches}
}

/** The directory of a forge on this machine's disk (a path or a file:// URL), or undefined for a remote one. */
function localForgeDir(url: string): string | undefined {
  if (url.startsWith('file://')) return decodeURIComponent(url.slice('file://'.length))
  return isAbsolute(url) ? url : undefined
}

/** How long a question through the watcher's shared ssh connection may take before git is asked instead. */
const SHARED_CHECK_TIMEOUT_MS = 10_000

/** Whether the last look at each forge (forgeBranchHead) had to start a process. */
const lookStartedProcess = new Map<string, boolean>()

/**
 * Where the forge's branch points, in the cheapest way there is: a forge on this machine's disk is read directly
 * (its ref file, or packed-refs); an SSH forge is asked through the watcher's shared connection when there is one
 * (no process: see sharedAdvertisedRefs); any other with `git ls-remote`. Throws ForgeUnreachableError when the
 * forge does not answer. Used by the checks that run every few seconds.
 */
export async function forgeBranchHead(url: string, branch: string): Promise<string | undefined> {
  const dir = localForgeDir(url)
  if (dir !== undefined && existsSync(join(dir, 'HEAD'))) {
    const head = readBranchRef(dir, branch)
    lookStartedProcess.set(url, false)
    if (head !== undefined) return head
  }
  const shared = await sharedAdvertisedRefs(url, Math.min(SHARED_CHECK_TIMEOUT_MS, forgeTimeoutMs()))
  lookStartedProcess.set(url, shared === undefined)
  return (shared ?? (await lsRemote(url))).get(`refs/heads/${branch}`)
}

/** Whether the last look at the forge at `url` (forgeBranchHead) started a process (git ls-remote). */
export function lastLookStartedProcess(url: string): boolean {
  return lookStartedProcess.get(url) ?? true
}
