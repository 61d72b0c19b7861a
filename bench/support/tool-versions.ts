// The versions of the tools a benchmark ran, as its report names them.
import {execa} from 'execa'

async function versionText(file: string): Promise<string> {
  return String((await execa(file, ['--version'])).stdout)
}

/** What Node, git and chezmoi say they are: Node's version, the first line of `git --version` and `chezmoi --version`. */
export async function toolVersions(): Promise<{node: string; git: string; chezmoi: string}> {
  const first = async (file: string) => (await versionText(file)).split('\n')[0].trim()
  return {node: process.version, git: await first('git'), chezmoi: await first('chezmoi')}
}

/** `git 2.39.5`: the tool's name and its version number (its first line where no number is found). */
export async function shortVersion(file: string): Promise<string> {
  const text = await versionText(file)
  return `${file} ${/version v?([^\s,]+)/.exec(text)?.[1] ?? text.split('\n')[0].trim()}`
}
