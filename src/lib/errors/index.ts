import {redactUrl} from '../forge/redact.ts'

// Every failure fleet reports carries an exit code from the documented set and, where there is one, the fix.

/** Exit codes shared by every command (see README, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  forgeUnreachable: 3,
  conflict: 4,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export class FleetError extends Error {
  readonly exitCode: ExitCodeValue
  readonly fix?: string
  readonly code: string

  constructor(message: string, options: {exitCode?: ExitCodeValue; fix?: string; code?: string; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = 'FleetError'
    this.exitCode = options.exitCode ?? ExitCode.error
    this.fix = options.fix
    this.code = options.code ?? 'FLEET_ERROR'
  }
}

/** Bad input from the person: a flag, an argument, an answer that cannot be used. Exit 2. */
export class UsageError extends FleetError {
  constructor(message: string, fix?: string, code = 'USAGE') {
    super(message, {exitCode: ExitCode.usage, fix, code})
    this.name = 'UsageError'
  }
}

/** The forge did not answer. Work stays local and a later run retries. Exit 3. */
export class ForgeUnreachableError extends FleetError {
  constructor(forge: string, detail: string, cause?: unknown) {
    super(redactUrl(`The forge ${forge} cannot be reached: ${detail}`), {
      exitCode: ExitCode.forgeUnreachable,
      fix: 'Check the network and the forge address (git ls-remote <forge> must work), then run the command again. Nothing was lost: local work stays here until the forge answers.',
      code: 'FORGE_UNREACHABLE',
      cause,
    })
    this.name = 'ForgeUnreachableError'
  }
}

/** A conflict that needs a person; both versions are kept. Exit 4. */
export class ConflictError extends FleetError {
  constructor(message: string, fix: string) {
    super(message, {exitCode: ExitCode.conflict, fix, code: 'CONFLICT'})
    this.name = 'ConflictError'
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
