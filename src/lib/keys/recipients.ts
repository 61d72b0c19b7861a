// The recipients file chezmoi encrypts to: derived from the manifest (the active machines), never edited by hand.
import {mkdir, readFile} from 'node:fs/promises'
import {dirname} from 'node:path'
import writeFileAtomic from 'write-file-atomic'

import type {Fleet} from '../manifest/schema.ts'
import {activeMachines, activeRecipients} from '../manifest/lookup.ts'

export function renderRecipients(fleet: Fleet): string {
  const lines = activeMachines(fleet).map((m) => `# ${m.name}\n${m.recipient}`)
  return `# Derived from the fleet manifest by fleet: the active machines' age recipients.\n${lines.join('\n')}\n`
}

/** Write the recipients file; returns the recipients it holds. */
export async function writeRecipientsFile(file: string, fleet: Fleet): Promise<string[]> {
  await mkdir(dirname(dirname(file)), {recursive: true})
  await mkdir(dirname(file), {recursive: true, mode: 0o700})
  await writeFileAtomic(file, renderRecipients(fleet), {mode: 0o644})
  return activeRecipients(fleet)
}

/** The recipients a recipients file holds (what chezmoi encrypts to); none when there is no such file. */
export async function recipientsInFile(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('age1'))
}
