// The wording the Keys, Managed paths and Agents checks share: counts with their plurals, and text from elsewhere in
// fleet (an error's message, chezmoi's reason) with the home directory shown as `~`.
import type {DoctorContext} from '../context.ts'

/** `1 file`, `2 files`: a count with its noun (`plural` when adding an s does not make it). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`
}

/** Text from elsewhere in fleet (an error's message or fix) with paths in the home directory shown as `~/…`. */
export function tildeText(context: DoctorContext, text: string): string {
  const home = context.paths.home
  // A path a fix quoted for the shell ('/home/a b/x') keeps `~/` outside the quotes, so the shell still expands it.
  return text
    .replaceAll(`'${home}/`, `~/'`)
    .replaceAll(`${home}/`, '~/')
    .replaceAll(new RegExp(`${escapeRegExp(home)}(?=$|[\\s'",:;)])`, 'g'), '~')
}

function escapeRegExp(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `text` as a sentence: its full stop added when it has none. */
export function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`
}
