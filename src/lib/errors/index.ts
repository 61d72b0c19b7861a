import {statfsSync} from 'node:fs'

import {redactUrl} from './redact.ts'
import {shellCommand} from './shell-command.ts'

// Every failure fleet reports carries an exit code from the documented set and, where there is one, the fix.

/**
 * Exit codes shared by every command, the core's and the plugins' (README, "Exit codes"): 0 done; 1 error; 2 usage
 * (bad input: a flag, an argument, an answer); 3 the forge cannot be reached (work kept, retried later); 4 a conflict
 * that needs a person (nothing lost).
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  forgeUnreachable: 3,
  conflict: 4,
} as const
/** One of the exit codes above (0–4). */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * A failure fleet reports to a person: the message says what happened; `fix` (optional) says what to do, as one or
 * more sentences, commands quoted for a POSIX shell; `code` is a stable UPPER_SNAKE identifier that `--json` output
 * carries (e.g. `PUSH_REJECTED`); `exitCode` is the process's exit code (default 1). The base command prints the
 * message and the fix (or the JSON error) and exits with `exitCode`; a plugin throws it for the same treatment.
 */
export class FleetError extends Error {
  /** The exit code the command ends with (ExitCode: 1 unless given). */
  readonly exitCode: ExitCodeValue
  /** What the person can do about it, printed under the message. */
  readonly fix?: string
  /** A stable identifier of the kind of failure, for scripts (`--json` prints it as `code`). */
  readonly code: string

  constructor(message: string, options: {exitCode?: ExitCodeValue; fix?: string; code?: string; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = 'FleetError'
    this.exitCode = options.exitCode ?? ExitCode.error
    this.fix = options.fix
    this.code = options.code ?? 'FLEET_ERROR'
  }
}

/** Bad input from the person: a flag, an argument, an answer that cannot be used. Exit 2, code USAGE unless given. */
export class UsageError extends FleetError {
  constructor(message: string, fix?: string, code = 'USAGE') {
    super(message, {exitCode: ExitCode.usage, fix, code})
    this.name = 'UsageError'
  }
}

/**
 * The forge did not answer. Work stays local and a later run retries. Exit 3, code FORGE_UNREACHABLE. `forge` is its
 * address (credentials in it are redacted), `detail` what went wrong; `fix` replaces the default advice.
 */
export class ForgeUnreachableError extends FleetError {
  constructor(forge: string, detail: string, cause?: unknown, fix?: string) {
    super(redactUrl(`The forge ${forge} cannot be reached: ${detail}`), {
      exitCode: ExitCode.forgeUnreachable,
      fix:
        fix ??
        'Check the network and the forge address (git ls-remote <forge> must work), then run the command again. Nothing was lost: local work stays here until the forge answers.',
      code: 'FORGE_UNREACHABLE',
      cause,
    })
    this.name = 'ForgeUnreachableError'
  }
}

/** A conflict that needs a person; both versions are kept. Exit 4, code CONFLICT; `fix` says how to settle it. */
export class ConflictError extends FleetError {
  constructor(message: string, fix: string) {
    super(message, {exitCode: ExitCode.conflict, fix, code: 'CONFLICT'})
    this.name = 'ConflictError'
  }
}

/** The message of anything thrown: an Error's message, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Below this much free space, a failed write is taken for a full disk. */
const LOW_SPACE_BYTES = 64 * 1024 * 1024

function freeBytes(path: string): number {
  try {
    const stats = statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/**
 * A system error a person should never see raw (ENOSPC, EACCES, …), said with what happened and the fix; anything
 * else is returned as it is. `where` names the place a full disk or a refused write concerns.
 */
export function explainSystemError(error: unknown, where: string): unknown {
  if (error instanceof FleetError && error.code !== 'PROCESS_FAILED') return error
  const text = errorMessage(error)
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const path = (error as NodeJS.ErrnoException | undefined)?.path ?? where
  // git says only "unable to write file" when a checkout runs out of space: a failed write on a nearly full disk is that.
  const failedWrite = /unable to (write|create) file|short write|write error/i.test(text) && freeBytes(where) < LOW_SPACE_BYTES
  if (code === 'ENOSPC' || code === 'EDQUOT' || /No space left on device|ENOSPC|Disk quota exceeded/i.test(text) || failedWrite) {
    return new FleetError(`The disk that holds ${path} is full: it could not be written (no space left on device).`, {
      code: 'DISK_FULL',
      fix: `Free some space there (${shellCommand('df', '-h', where)} shows how much is left), then run \`fleet sync\` again. Nothing was lost: what this sync had half written was undone.`,
      cause: error,
    })
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new FleetError(`fleet may not write ${path} (${code === 'EROFS' ? 'read-only file system' : 'permission denied'}).`, {
      code: 'NOT_WRITABLE',
      fix: `Make ${path} writable for you (ls -l shows who owns it), then run the command again.`,
      cause: error,
    })
  }
  // A path in the way: a file where a directory was expected, a name too long, a loop of links (from node or chezmoi).
  const inTheWay = PATH_FAULTS.find((f) => f.code === code || f.text.test(text))
  if (inTheWay) {
    const at = (error as NodeJS.ErrnoException | undefined)?.path ?? /(?:lstat|stat|open|mkdir|remove|rename) (\/[^:\n]+):/.exec(text)?.[1] ?? path
    return new FleetError(`fleet could not use ${at}: ${inTheWay.what}.`, {
      code: 'PATH_IN_THE_WAY',
      fix: `Look at each part of it (ls -ld), rename or move what is in the way, then run the command again.`,
      cause: error,
    })
  }
  return error
}

const PATH_FAULTS = [
  {code: 'ENOTDIR', text: /: not a directory$/m, what: 'a part of it is a file where a directory was expected'},
  {code: 'EISDIR', text: /: is a directory$/m, what: 'it is a directory where a file was expected'},
  {code: 'ENAMETOOLONG', text: /: file name too long$/m, what: 'a name in it is longer than the file system allows'},
  {code: 'ELOOP', text: /: too many levels of symbolic links$/m, what: 'its symlinks point at each other in a loop'},
]
