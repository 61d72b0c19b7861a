// Where a command named without a directory is found on PATH, the way a shell finds it.
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

/** Every executable file called `name` on PATH, first (the one a shell runs) first. Relative entries are skipped. */
export function executablesOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const found: string[] = []
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir.startsWith('/')) continue // a relative entry means something else in another working directory
    const file = join(dir, name)
    try {
      if (!statSync(file).isFile()) continue
      accessSync(file, constants.X_OK)
      found.push(file)
    } catch {
      // not here
    }
  }
  return found
}
