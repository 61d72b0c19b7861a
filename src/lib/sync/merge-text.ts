// Three-way merge of one file's contents, in memory (so that decrypted contents never touch the disk): what
// each side changed since the base, or nothing when both changed the same lines (or adjacent ones, as git does).
import {diff3Merge} from 'node-diff3'

function isBinary(content: Uint8Array): boolean {
  return content.includes(0)
}

/**
 * Merge `mine` and `theirs`, both descended from `base`. Returns the merged bytes, or undefined when the two
 * overlap (a conflict for a person) or either side is binary and both changed.
 */
export function mergeText(base: Uint8Array, mine: Uint8Array, theirs: Uint8Array): Buffer | undefined {
  const [b, m, t] = [base, mine, theirs].map((content) => Buffer.from(content))
  if (m.equals(t) || t.equals(b)) return m
  if (m.equals(b)) return t
  if ([b, m, t].some(isBinary)) return undefined
  const split = (content: Buffer) => content.toString('latin1').split('\n') // latin1: byte for byte, whatever the encoding
  const regions = diff3Merge(split(m), split(b), split(t))
  if (regions.some((region) => region.conflict !== undefined)) return undefined
  return Buffer.from(regions.flatMap((region) => region.ok ?? []).join('\n'), 'latin1')
}
