// The secrets file's format: dotenv (`KEY=value`, optional `export `, `#` comments, single, double and backtick
// quotes, multi-line quoted values, `\n` and `\r` inside double quotes), read strictly. What dotenv itself would
// read in a surprising way — a `#` glued to a value, text after a closing quote, a quote never closed, a value
// ending in a backslash before its closing quote, a key given twice — is refused with its line number and the fix,
// never guessed at. A document keeps its layout (comments, blank lines, order): a change rewrites only its own lines.
import {UsageError} from '../errors/index.ts'

/** One `KEY=value` of a document, with where it is (1-based lines; a multi-line value spans several). */
export interface DotenvEntry {
  key: string
  value: string
  line: number
  lastLine: number
  exported: boolean
}

/** A run of the document's text: an entry's lines, or lines that are not entries (comments, blank lines). */
interface Block {
  text: string
  entry?: DotenvEntry
}

export const KEY_RULE = 'letters, digits and _, not starting with a digit'
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Values written without quotes: nothing a shell or dotenv reads specially. */
const PLAIN_VALUE = /^[\w.,:/@%+=~-]+$/
const QUOTES = ["'", '"', '`']

/** Refuse a key that is not a dotenv (and shell) variable name. */
export function checkKey(key: string): void {
  if (!KEY.test(key)) {
    throw new UsageError(`${JSON.stringify(key)} is not a valid secret name: names are ${KEY_RULE}.`, 'Use a name such as GITHUB_TOKEN.', 'SECRET_NAME_INVALID')
  }
}

function malformed(file: string, line: number, problem: string, fix: string): UsageError {
  return new UsageError(`${file}, line ${line}: ${problem}`, `${fix} Nothing was changed.`, 'SECRETS_MALFORMED')
}

/** Read a value starting with a quote at `lines[index]` (after `=`); returns it and the index of its last line. */
function readQuoted(lines: string[], index: number, rest: string, file: string): {value: string; last: number} {
  const quote = rest[0]
  let text = rest.slice(1)
  let last = index
  let close = text.indexOf(quote)
  while (close === -1) {
    last++
    if (last >= lines.length) {
      throw malformed(file, index + 1, `the value's opening ${quote} is never closed.`, `Close the quote (a value may span lines only inside quotes).`)
    }
    text += '\n' + lines[last]
    close = text.indexOf(quote)
  }
  const content = text.slice(0, close)
  const after = text.slice(close + 1) // the rest of the closing quote's line
  if (!/^\s*(#.*)?$/.test(after)) {
    throw malformed(
      file,
      last + 1,
      `text after the closing ${quote}: ${JSON.stringify(after.trim().slice(0, 20))}.`,
      'Put the whole value inside the quotes, or start a comment with " #".',
    )
  }
  if (content.endsWith('\\')) {
    throw malformed(
      file,
      last + 1,
      `the value ends with a backslash just before its closing ${quote}, which dotenv reads as an escaped quote.`,
      'Use another kind of quote around the value.',
    )
  }
  const value = quote === '"' ? content.replace(/\\n/g, '\n').replace(/\\r/g, '\r') : content
  return {value, last}
}

/** Read an unquoted value (the text after `=`): up to a ` #` comment, trimmed. */
function readPlain(raw: string, line: number, file: string): string {
  const hash = raw.indexOf('#')
  if (hash !== -1 && (hash === 0 || !/\s/.test(raw[hash - 1]))) {
    throw malformed(
      file,
      line,
      'a # inside an unquoted value starts a comment in dotenv, so the rest of the value would be lost.',
      "Quote the value (KEY='a#b'), or put a space before a comment.",
    )
  }
  const value = (hash === -1 ? raw : raw.slice(0, hash)).trim()
  if (QUOTES.includes(value[0])) {
    throw malformed(file, line, `the value starts with ${value[0]} but is not quoted as a whole.`, 'Put the whole value inside one pair of quotes.')
  }
  return value
}

/** A dotenv document: its entries, and its text with comments and layout kept. */
export class DotenvDocument {
  readonly file: string
  private blocks: Block[]

  constructor(file: string, blocks: Block[]) {
    this.file = file
    this.blocks = blocks
  }

  get entries(): DotenvEntry[] {
    return this.blocks.flatMap((block) => (block.entry ? [block.entry] : []))
  }

  /** The entries as a map, in document order. */
  values(): Map<string, string> {
    return new Map(this.entries.map((entry) => [entry.key, entry.value]))
  }

  get(key: string): string | undefined {
    return this.blocks.find((block) => block.entry?.key === key)?.entry?.value
  }

  /** Set a key (its own line(s) rewritten in place, or a new line at the end). Refuses a value that cannot be written. */
  set(key: string, value: string): 'added' | 'changed' | 'unchanged' {
    const block = this.blocks.find((b) => b.entry?.key === key)
    if (block?.entry?.value === value) return 'unchanged'
    const exported = block?.entry?.exported ?? false
    const text = serializeEntry(key, value, exported) + '\n'
    const entry = {key, value, exported, line: 0, lastLine: 0}
    if (block) {
      block.text = block.text.endsWith('\n') ? text : text.slice(0, -1)
      block.entry = entry
      return 'changed'
    }
    this.append([{text, entry}])
    return 'added'
  }

  /** Remove a key's line(s); false when it is not there. */
  unset(key: string): boolean {
    const index = this.blocks.findIndex((b) => b.entry?.key === key)
    if (index === -1) return false
    this.blocks.splice(index, 1)
    return true
  }

  /** Add blocks at the end (after a newline the text may lack). */
  append(blocks: Block[]): void {
    const last = this.blocks.at(-1)
    if (last && !last.text.endsWith('\n')) last.text += '\n'
    this.blocks.push(...blocks)
  }

  /**
   * The lines that are not entries right above `key`'s entry (its comment, say), as blocks to carry along with it
   * into another document.
   */
  leadingComments(key: string): Block[] {
    const index = this.blocks.findIndex((b) => b.entry?.key === key)
    let start = index
    while (start > 0 && !this.blocks[start - 1].entry && /^\s*#/.test(this.blocks[start - 1].text)) start--
    return this.blocks.slice(start, index).map((b) => ({text: b.text.endsWith('\n') ? b.text : b.text + '\n'}))
  }

  /** The block of an entry, for another document to take over as it is (its text and comments). */
  entryBlock(key: string): Block | undefined {
    const block = this.blocks.find((b) => b.entry?.key === key)
    return block && {text: block.text.endsWith('\n') ? block.text : block.text + '\n', entry: block.entry}
  }

  toString(): string {
    return this.blocks.map((block) => block.text).join('')
  }
}

/**
 * Parse a dotenv document strictly. `file` names it in errors (each names the line and the fix). Line endings
 * `\r\n` are read as `\n`, as dotenv does.
 */
export function parseDotenv(input: string, file: string): DotenvDocument {
  const lines = input.replace(/\r\n?/g, '\n').split('\n')
  const endsWithNewline = lines.at(-1) === ''
  if (endsWithNewline) lines.pop()
  const blocks: Block[] = []
  const seen = new Map<string, number>()
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]
    const number = index + 1
    if (/^\s*(#.*)?$/.test(line)) {
      blocks.push({text: line})
      continue
    }
    const match = /^\s*(export\s+)?([^\s=]+)\s*=(.*)$/.exec(line)
    if (!match) {
      throw malformed(
        file,
        number,
        'not a KEY=value line, a comment (#) or a blank line.',
        'Write it as KEY=value, or start it with # to keep it as a comment.',
      )
    }
    const [, exportWord, key, raw] = match
    if (!KEY.test(key)) throw malformed(file, number, `${JSON.stringify(key)} is not a valid name: names are ${KEY_RULE}.`, 'Rename the key.')
    const earlier = seen.get(key)
    if (earlier !== undefined) throw malformed(file, number, `${key} is set again (first on line ${earlier}).`, 'Keep one of the two lines.')
    seen.set(key, number)
    const rest = raw.replace(/^\s+/, '')
    let value: string
    let last = index
    if (QUOTES.includes(rest[0])) ({value, last} = readQuoted(lines, index, rest, file))
    else value = readPlain(raw, number, file)
    blocks.push({text: lines.slice(index, last + 1).join('\n'), entry: {key, value, line: number, lastLine: last + 1, exported: Boolean(exportWord)}})
    index = last
  }
  // Each block's text ends with its newline, but the last one's only when the input's did.
  for (const [i, block] of blocks.entries()) if (i < blocks.length - 1 || endsWithNewline) block.text += '\n'
  return new DotenvDocument(file, blocks)
}

function quoted(value: string, quote: string): string | undefined {
  if (value.includes(quote) || value.endsWith('\\')) return undefined
  return `${quote}${value}${quote}`
}

/** In double quotes, line breaks written as \n and \r; undefined when the value holds those escapes itself. */
function doubleQuotedEscaped(value: string): string | undefined {
  if (/\\[nr]/.test(value)) return undefined
  return quoted(value, '"')?.replace(/\n/g, '\\n').replace(/\r/g, '\\r')
}

/**
 * One `KEY=value` line (or lines: a value with line breaks that only quotes without escapes can hold) that dotenv
 * parses back to exactly `value`. Refuses a value no dotenv quoting can hold.
 */
export function serializeEntry(key: string, value: string, exported = false): string {
  checkKey(key)
  const prefix = `${exported ? 'export ' : ''}${key}=`
  if (value === '' || PLAIN_VALUE.test(value)) return prefix + value
  const oneLine = !/[\n\r]/.test(value)
  const written = oneLine
    ? (quoted(value, "'") ?? doubleQuotedEscaped(value) ?? quoted(value, '`'))
    : (doubleQuotedEscaped(value) ?? (/\r/.test(value) ? undefined : (quoted(value, "'") ?? quoted(value, '`'))))
  // Last, unquoted: dotenv reads a line to its end (or a comment), trimmed, with a quote at the start taken as quoting.
  if (written === undefined && /^[^\s'"`#][^\n\r#]*$/.test(value) && value.trim() === value) return prefix + value
  if (written === undefined) {
    throw new UsageError(
      `The value of ${key} cannot be written in the dotenv format: it holds all three quote characters (' " \`)${oneLine ? '' : ' and line breaks'}, or ends with a backslash.`,
      'Change the value (encode it in base64, say); nothing was changed.',
      'SECRET_VALUE_UNWRITABLE',
    )
  }
  return prefix + written
}
