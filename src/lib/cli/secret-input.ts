// A secret's value comes from a hidden prompt in a terminal, else from stdin: never from the command line, where any
// process on the machine could read it. The prompt library is loaded only when a question is asked.
import {UsageError} from '../errors/index.ts'

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
  return Buffer.concat(chunks).toString('utf8')
}

/** The value for `key`: asked without echo when stdin is a terminal, else the whole of stdin less one trailing newline. */
export async function readSecretValue(key: string): Promise<string> {
  let value: string
  if (process.stdin.isTTY) {
    const {password} = await import('@inquirer/prompts')
    value = await password({message: `Value for ${key} (not shown):`, mask: false})
  } else {
    value = (await readStdin()).replace(/\r?\n$/, '')
  }
  if (value === '') {
    throw new UsageError(
      `No value was given for ${key}: nothing was changed.`,
      `Type it at the prompt, or pipe it in (printf %s "$VALUE" | fleet secrets set ${key}). To remove ${key}: fleet secrets unset ${key}.`,
      'SECRET_VALUE_EMPTY',
    )
  }
  return value
}

/**
 * New values for `keys`, asked one by one without echo in a terminal (an empty answer skips that key). Names only
 * are shown; the values stay in memory.
 */
export async function askNewValues(keys: string[]): Promise<Map<string, string>> {
  const {password} = await import('@inquirer/prompts')
  const values = new Map<string, string>()
  for (const key of keys) {
    const value = await password({message: `New value for ${key} (not shown; empty: not now):`, mask: false})
    if (value !== '') values.set(key, value)
  }
  return values
}
