// A Parquet file that DuckDB cannot read, said in words: which file, why, and what to do about it.
import {homedir} from 'node:os'

import {FleetError, shellWord} from '@dotfleet/fleet'

/** DuckDB's message without the SQL it points into (`LINE 1: …` and its caret). */
export function readError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n\nLINE ')[0].trim()
}

/** Whose file could not be read: this machine's own (`local`) or a peer's copy in the fleet tree. */
export type FileSource = 'local' | {host: string}

/** One file that cannot be read, and why. */
export interface UnreadableFile {
  file: string
  detail: string
  source: FileSource
}

/** `text` with the home directory shown as `~` (a path inside quotes stays whole inside them): for a message. */
function tilde(home: string, text: string): string {
  return home && home !== '/' ? text.replaceAll(`${home}/`, '~/') : text
}

/**
 * A path as a shell word a person can paste: `~/` for the home directory, and only the parts that need quoting
 * quoted (`~/data/'st*r'/local.parquet`), so that the path still reads as one.
 */
export function shellPath(home: string, file: string): string {
  const underHome = home && home !== '/' && file.startsWith(`${home}/`)
  const parts = (underHome ? file.slice(home.length + 1) : file).split('/').map((part) => (part === '' ? part : shellWord(part)))
  return underHome ? `~/${parts.join('/')}` : parts.join('/')
}

/**
 * The error for files that cannot be read (every one named): this machine's own (moving it aside lets `record` start
 * a new one) or peers' copies in the fleet tree (pull-fleet fetches them again). `consequence` says what did not
 * happen ("Nothing was recorded.").
 */
export function unreadableFilesError(files: UnreadableFile[], consequence: string): FleetError {
  const home = homedir()
  const fixes: string[] = []
  const local = files.find((file) => file.source === 'local')
  if (local) {
    const path = shellPath(home, local.file)
    fixes.push(`Move it aside: mv ${path} ${shellPath(home, `${local.file}.broken`)} (the next \`fleet task-durations record\` starts a new file).`)
  }
  const copies = files.filter((file) => file.source !== 'local')
  if (copies.length > 0) {
    const hosts = copies.map((copy) => (copy.source as {host: string}).host).join(', ')
    const removal = `rm ${copies.map((copy) => shellPath(home, copy.file)).join(' ')}`
    fixes.push(
      `Remove the ${copies.length === 1 ? 'copy' : 'copies'}: ${removal}, then run \`fleet task-durations pull-fleet\` to fetch ${copies.length === 1 ? `${hosts}'s file` : `the files of ${hosts}`} again.`,
    )
  }
  const said = (file: UnreadableFile) => `${tilde(home, file.file)} cannot be read: ${tilde(home, file.detail)}.`
  const message =
    files.length === 1
      ? `${said(files[0])} ${consequence}`
      : [`${files.length} files cannot be read. ${consequence}`, ...files.map((file) => `  ${said(file)}`)].join('\n')
  return new FleetError(message, {code: 'UNREADABLE_FILE', fix: fixes.join(' ')})
}

/** The error for one file that cannot be read (see unreadableFilesError). */
export function unreadableFileError(file: string, detail: string, source: FileSource, consequence: string): FleetError {
  return unreadableFilesError([{file, detail, source}], consequence)
}
