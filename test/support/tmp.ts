// Temporary directories for one test file, removed at the end unless FLEET_TEST_KEEP is set.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `fleet-${prefix}-`))
}

export function removeTempDir(dir: string): void {
  if (!process.env.FLEET_TEST_KEEP) rmSync(dir, {recursive: true, force: true})
}
