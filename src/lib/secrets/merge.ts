// A three-way merge of the secrets file by key: different keys changed, added or removed on two machines merge;
// one key changed to different values on both (or changed on one and removed on the other) is a conflict, named by
// its key, never its value. Everything happens in memory: the inputs are decrypted contents.
import {type DotenvDocument, parseDotenv} from './dotenv.ts'

export type SecretsMerge = {kind: 'merged'; text: string} | {kind: 'conflict'; keys: string[]} | {kind: 'unparsable'}

/** Each key's value after merging `mine` and `theirs` from `base` (undefined: absent), or the keys in conflict. */
function mergeValues(
  base: Map<string, string>,
  mine: Map<string, string>,
  theirs: Map<string, string>,
): {values: Map<string, string | undefined>; conflicts: string[]} {
  const values = new Map<string, string | undefined>()
  const conflicts: string[] = []
  for (const key of new Set([...base.keys(), ...mine.keys(), ...theirs.keys()])) {
    const [b, m, t] = [base.get(key), mine.get(key), theirs.get(key)]
    if (m === t || m === b) values.set(key, t)
    else if (t === b) values.set(key, m)
    else conflicts.push(key)
  }
  return {values, conflicts}
}

function sameValues(document: DotenvDocument, values: Map<string, string | undefined>): boolean {
  const have = document.values()
  const want = [...values].filter(([, value]) => value !== undefined)
  return have.size === want.length && want.every(([key, value]) => have.get(key) === value)
}

/**
 * Merge the secrets file three ways by key. `lineMerge` is the plain line merge of the same texts (or undefined when
 * it conflicts): when it agrees with the merge by key it is taken, so that comments made on both sides are kept;
 * otherwise the result is the forge's document with this machine's changes made to it (a new key arrives with the
 * comment lines right above it). Unparsable when a side is not a valid dotenv document.
 */
export function mergeSecrets(base: string | undefined, mine: string, theirs: string, lineMerge?: string): SecretsMerge {
  let documents: DotenvDocument[]
  try {
    documents = [base ?? '', mine, theirs].map((text, i) => parseDotenv(text, ['base', 'mine', 'theirs'][i]))
  } catch {
    return {kind: 'unparsable'}
  }
  const [baseDoc, mineDoc, theirsDoc] = documents
  const {values, conflicts} = mergeValues(baseDoc.values(), mineDoc.values(), theirsDoc.values())
  if (conflicts.length > 0) return {kind: 'conflict', keys: conflicts.sort()}
  if (lineMerge !== undefined) {
    try {
      if (sameValues(parseDotenv(lineMerge, 'merged'), values)) return {kind: 'merged', text: lineMerge}
    } catch {
      // the line merge made something that is not a document: merge by key below
    }
  }
  const theirsValues = theirsDoc.values()
  for (const [key, value] of values) {
    if (value === theirsValues.get(key)) continue
    if (value === undefined) theirsDoc.unset(key)
    else if (theirsValues.has(key)) theirsDoc.set(key, value)
    else theirsDoc.append([...mineDoc.leadingComments(key), mineDoc.entryBlock(key)!])
  }
  return {kind: 'merged', text: theirsDoc.toString()}
}

/**
 * The secrets file's decrypted versions merged by key (see mergeSecrets): the merged bytes, or undefined for a
 * conflict. A side that is not valid UTF-8 or dotenv takes `lineMerge`, the plain line merge, as any file would.
 */
export function mergeSecretsBytes(
  base: Uint8Array | undefined,
  mine: Uint8Array,
  theirs: Uint8Array,
  lineMerge: Uint8Array | undefined,
): Uint8Array | undefined {
  const decoder = new TextDecoder('utf-8', {fatal: true})
  let texts: Array<string | undefined>
  try {
    texts = [base, mine, theirs, lineMerge].map((bytes) => (bytes === undefined ? undefined : decoder.decode(bytes)))
  } catch {
    return lineMerge
  }
  const merged = mergeSecrets(texts[0], texts[1]!, texts[2]!, texts[3])
  if (merged.kind === 'unparsable') return lineMerge
  return merged.kind === 'merged' ? Buffer.from(merged.text) : undefined
}

/** The keys mergeSecrets finds in conflict between three versions (none when a side is not a valid document). */
export function conflictingKeys(base: string | undefined, mine: string, theirs: string): string[] {
  const merged = mergeSecrets(base, mine, theirs)
  return merged.kind === 'conflict' ? merged.keys : []
}
