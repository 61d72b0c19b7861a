// The model behind the randomized scenario (test/scenario/edit-random.test.ts): a seeded PRNG, files made of
// slots each machine owns, and what every machine must hold once the fleet has settled.
//
// A slot file holds lines `s<k> = <token>`, slot k owned by machine k % machines.length, each slot separated from
// the next by two constant lines (git's merge treats edits to adjacent lines as a conflict). A machine only ever
// sets its own slots, to a fresh token `<machine>-<counter>` (the counter grows per machine), so no two machines
// ever change the same lines: every merge is clean, and the latest token its owner wrote is what every machine
// must end up with.

/** mulberry32: a tiny seeded PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export const INITIAL_TOKEN = 'init'

export function slotLine(k: number, token: string): string {
  return `s${k} = ${token}`
}

/** The initial content of a slot file: every slot at INITIAL_TOKEN. */
export function renderSlots(slots: number, header: string): string {
  const lines = [`# ${header}`, '# (each slot is set only by its owner; the lines around it never change)']
  for (let k = 0; k < slots; k++) lines.push(slotLine(k, INITIAL_TOKEN), `# --- ${k} ---`, `#    ${k}`)
  return `${lines.join('\n')}\n`
}

export interface ParsedSlots {
  slots: Map<number, string>
  /** What makes the file not a plain slot file: a slot twice, conflict markers. */
  problems: string[]
}

export function parseSlots(text: string): ParsedSlots {
  const slots = new Map<number, string>()
  const problems: string[] = []
  for (const line of text.split('\n')) {
    const m = /^s(\d+) = (.*)$/.exec(line)
    if (m) {
      const k = Number(m[1])
      if (slots.has(k)) problems.push(`slot s${k} appears twice`)
      slots.set(k, m[2])
    } else if (/^(<<<<<<<|=======|>>>>>>>)/.test(line)) problems.push(`conflict marker: ${line}`)
  }
  return {slots, problems}
}

/** The text with slot k set to token, or undefined when the file does not hold slot k exactly once. */
export function setSlot(text: string, k: number, token: string): string | undefined {
  const pattern = new RegExp(`^s${k} = .*$`, 'gm')
  const matches = text.match(pattern)
  if (!matches || matches.length !== 1) return undefined
  return text.replace(pattern, slotLine(k, token))
}

/** The counter of a token (`beta-12` → 12; the initial token → 0), or undefined for a token no machine writes. */
export function tokenCounter(token: string): number | undefined {
  if (token === INITIAL_TOKEN) return 0
  const m = /^[a-z]+-(\d+)$/.exec(token)
  return m ? Number(m[1]) : undefined
}

export function tokenOwner(token: string): string | undefined {
  return /^([a-z]+)-\d+$/.exec(token)?.[1]
}

/** Differences between a slot file as found and the expected tokens, one line each. */
export function diffSlots(where: string, text: string | undefined, expected: string[]): string[] {
  if (text === undefined) return [`${where}: missing (expected ${expected.length} slots)`]
  const {slots, problems} = parseSlots(text)
  const diffs = problems.map((p) => `${where}: ${p}`)
  for (const [k, want] of expected.entries()) {
    const have = slots.get(k)
    if (have !== want) diffs.push(`${where} s${k}: want ${want}, have ${have ?? '(no line)'}`)
  }
  for (const k of slots.keys()) if (k >= expected.length) diffs.push(`${where}: unexpected slot s${k}`)
  return diffs
}

/**
 * The history rule for slot files: along the forge's branch, the counter of a slot's token never goes down from
 * one commit to the next (a decrease is a commit that put back an older version of another machine's edit).
 * versions: the file's content at each commit, oldest first (undefined where the commit does not hold it).
 */
export function slotHistoryViolations(label: string, versions: Array<{commit: string; subject: string; text: string | undefined}>, owners: string[]): string[] {
  const violations: string[] = []
  const last = new Map<number, {token: string; counter: number; commit: string}>()
  for (const {commit, subject, text} of versions) {
    if (text === undefined) continue
    const {slots, problems} = parseSlots(text)
    for (const p of problems) violations.push(`${label} @${commit.slice(0, 8)} "${subject}": ${p}`)
    for (const [k, token] of slots) {
      const counter = tokenCounter(token)
      const owner = owners[k % owners.length]
      if (counter === undefined || (token !== INITIAL_TOKEN && tokenOwner(token) !== owner)) {
        violations.push(`${label} @${commit.slice(0, 8)} "${subject}": s${k} = ${token} is not a token its owner ${owner} writes`)
        continue
      }
      const before = last.get(k)
      if (before && counter < before.counter) {
        violations.push(`${label} @${commit.slice(0, 8)} "${subject}": s${k} went back from ${before.token} (@${before.commit.slice(0, 8)}) to ${token}`)
      }
      last.set(k, {token, counter, commit})
    }
  }
  return violations
}

/** The same rule for whole files holding one token each (`v = <token>`). */
export function fileHistoryViolations(versions: Array<{commit: string; subject: string; files: Map<string, string>}>): string[] {
  const violations: string[] = []
  const last = new Map<string, {token: string; counter: number; commit: string}>()
  for (const {commit, subject, files} of versions) {
    for (const [path, content] of files) {
      const token = /^v = (.*)$/m.exec(content)?.[1] ?? content
      const counter = tokenCounter(token)
      if (counter === undefined) {
        violations.push(`${path} @${commit.slice(0, 8)} "${subject}": unexpected content ${JSON.stringify(content)}`)
        continue
      }
      const before = last.get(path)
      if (before && counter < before.counter) {
        violations.push(`${path} @${commit.slice(0, 8)} "${subject}": went back from ${before.token} (@${before.commit.slice(0, 8)}) to ${token}`)
      }
      last.set(path, {token, counter, commit})
    }
  }
  return violations
}
