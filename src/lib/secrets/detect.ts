// What looks like a secret in text that would leave this machine in plain text. Two detectors side by side:
// secretlint's recommended rule set (maintained token formats: npm, GitHub, Slack, AWS access keys, database
// connection strings, …), run in-process, and fleet's rules for the formats of dotfiles it misses (private key
// blocks, `.env` and `.netrc` passwords, s3cfg and AWS secret keys, kubeconfig tokens, passwords in URLs). A
// finding names what kind of secret it is and its line, never the value. chezmoi's own scan (`add --secrets=error`)
// runs beside these when files are added.

/** One thing that looks like a secret. */
export interface SecretFinding {
  /** What kind of secret, in words ("npm access token", "password in a .env assignment"); never the value. */
  kind: string
  /** 1-based line in the text that was checked. */
  line: number
}

interface Rule {
  kind: string
  pattern: RegExp
  /** The captured value (group 1) must look random, not be a plain word. */
  random?: boolean
}

/** A value that is a placeholder, not a secret: `$VAR`, `${VAR}`, `<token>`, `{{ template }}`, `***`, `changeme`… */
const PLACEHOLDER = /^(\$|<|\{\{|%|\*{3}|x{4}|\.{3}|changeme$|your[-_]|example$|null$|none$|true$|false$)/i

/**
 * A value that could be a credential rather than a word: letters and digits mixed, or upper and lower case mixed,
 * or long (`gnome-libsecret` is a setting, `hunter2hunter2` and `Xy7kq2Lm` are not).
 */
function looksRandom(value: string): boolean {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((c) => c.test(value)).length
  return classes >= 2 || value.length >= 24
}

/** Names of settings whose value is a credential. */
const CREDENTIAL_NAME = '(?:[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth)[A-Za-z0-9_.-]*)'

const RULES: Rule[] = [
  {kind: 'private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/},
  {kind: 'AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/},
  {kind: 'GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b/},
  {kind: 'npm access token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/},
  {kind: 'PyPI token', pattern: /\bpypi-AgE[A-Za-z0-9_-]{50,}/},
  {kind: 'Slack token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/},
  {kind: 'API key (sk-…)', pattern: /\bsk-[A-Za-z0-9_-]{20,}/},
  {kind: 'password in a URL', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]+:([^\s@/'"]{3,})@[^\s/'"]/i},
  {kind: 'password in a .netrc entry', pattern: /(?:^|\s)password\s+(?!\s)(\S{3,})/},
  {kind: 'kubeconfig credential', pattern: /^\s*(?:client-key-data|token|id-token|refresh-token)\s*:\s*["']?([A-Za-z0-9+/=._-]{20,})/m},
  // `NAME=value`, `name = value`, `"name": "value"`, `name: value` where the name says it is a credential.
  {kind: 'credential assignment', random: true, pattern: new RegExp(`(?:^|[\\s{,;"'])${CREDENTIAL_NAME}["']?\\s*[:=]\\s*["']?([^\\s"',;#]{6,})`, 'im')},
]

/** fleet's own rules, line by line (so a finding names its line, and a placeholder value is let through). */
function ruleFindings(text: string): SecretFinding[] {
  const findings: SecretFinding[] = []
  const lines = text.split('\n')
  for (const [i, line] of lines.entries()) {
    for (const {kind, pattern, random} of RULES) {
      const match = pattern.exec(line)
      if (!match) continue
      const value = match[1]
      if (value !== undefined && PLACEHOLDER.test(value.replace(/^["']/, ''))) continue
      if (random && value !== undefined && !looksRandom(value)) continue
      findings.push({kind, line: i + 1})
      break
    }
  }
  return findings
}

type SecretlintRunner = (text: string, file: string) => Promise<SecretFinding[]>
let secretlint: Promise<SecretlintRunner> | undefined

/** secretlint is loaded when first needed: most syncs check nothing new. */
function loadSecretlint(): Promise<SecretlintRunner> {
  secretlint ??= (async () => {
    const [{lintSource}, {creator: preset}] = await Promise.all([import('@secretlint/core'), import('@secretlint/secretlint-rule-preset-recommend')])
    const config = {rules: [{id: '@secretlint/secretlint-rule-preset-recommend', rule: preset}]}
    return async (text: string, file: string) => {
      const result = await lintSource({
        source: {content: text, filePath: file, ext: '', contentType: 'text'},
        options: {config, maskSecrets: true, noPhysicFilePath: true},
      })
      // The message without its (masked) value: "found npm access token".
      return result.messages.map((m) => ({kind: m.message.split(':')[0].replace(/^found /i, '').trim(), line: m.loc.start.line}))
    }
  })()
  return secretlint
}

/** Text that is not worth reading for secrets: binary contents. */
function isBinary(text: string): boolean {
  return text.includes('\0')
}

/**
 * What in `text` looks like a secret, by both detectors, one finding per line at most (the first kind found).
 * `file` is the path the text comes from (secretlint's rules look at it). Never throws for odd input; binary text
 * has no findings.
 */
export async function findSecrets(text: string, file: string): Promise<SecretFinding[]> {
  if (text.length === 0 || isBinary(text)) return []
  const own = ruleFindings(text)
  const theirs = await (await loadSecretlint())(text, file).catch(() => [] as SecretFinding[])
  const byLine = new Map<number, SecretFinding>()
  for (const finding of [...theirs, ...own]) if (!byLine.has(finding.line)) byLine.set(finding.line, finding)
  return [...byLine.values()].sort((a, b) => a.line - b.line)
}

/** Findings in words for a person: "npm access token (line 3), private key (line 1)". */
export function describeFindings(findings: SecretFinding[]): string {
  const shown = findings.slice(0, 3).map((f) => `${f.kind} (line ${f.line})`)
  return shown.join(', ') + (findings.length > 3 ? ` and ${findings.length - 3} more` : '')
}
