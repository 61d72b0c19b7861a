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
  /** Group 1 is the value: a placeholder (`$VAR`, `<token>`) is let through. */
  valued?: boolean
}

/** A value that stands for a secret kept elsewhere: `$VAR`, `${VAR}`, `$(cmd)`, `<token>`, `{{ … }}`, `%VAR%`, `***`. */
const PLACEHOLDER =
  /^(\$[A-Za-z_][A-Za-z0-9_]*|\$\{.*\}?|\$\(.*\)?|<[^>]*>|\{\{.*|%[A-Za-z_][A-Za-z0-9_]*%|\*{3,}|x{4,}|\.{3}|changeme|your[-_].*|example|null|none|nil|true|false|yes|no|on|off|prompt|keychain|keyring)$/i

/** A value that is a path or an address without credentials: a setting that points at a secret, not the secret. */
const REFERENCE = /^(\/|~\/|\.\.?\/|[A-Za-z]:\\)|^[a-z][a-z0-9+.-]*:\/\/[^@]*$/i

/**
 * A value that could be a credential rather than a word: letters and digits mixed, or upper and lower case mixed,
 * or long (`gnome-libsecret` is a setting, `hunter2hunter2` and `Xy7kq2Lm` are not).
 */
function looksRandom(value: string): boolean {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((c) => c.test(value)).length
  return classes >= 2 || value.length >= 24
}

/** Names whose value is a password, whatever it looks like. */
const PASSWORD_NAME = /(?:^|[^a-z])(?:password|passwd|passphrase|pwd|pass)$|password|passwd|passphrase/i
/** Names whose value is a credential when it looks random: tokens, keys, secrets. */
const CREDENTIAL_NAME =
  /password|passwd|passphrase|(?:^|[^a-z])(?:pwd|pass)$|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|(?:^|[^a-z])auth$/i
/** Names that only point at or describe a credential (a file, an address, a setting), or merely contain the word. */
const NOT_A_CREDENTIAL =
  /(uri|url|endpoint|dir|directory|path|file|sock|socket|helper|view|manager|store|program|command|cmd|method|type|mode|prompt|ttl|timeout|expiry|expires|lifetime|provider|format|style|colou?rs?|customizations?|length|size|count|limit|enabled|required|policy|env|name|id|header|ization|izer|ring)$|^author|passthrough|bypass|compass/i

/** A credential assignment on one line: `NAME=value`, `name = value`, `"name": "value"`, `name: value`. */
const ASSIGNMENT = /(?:^|[\s{,;"'(])([A-Za-z][A-Za-z0-9_.-]*)["']?\s*[:=]\s*(?:"([^"]*)"|'([^']*)'|([^\s]+))/g

function credentialAssignment(line: string): boolean {
  for (const match of line.matchAll(ASSIGNMENT)) {
    const name = match[1]
    if (!CREDENTIAL_NAME.test(name) || NOT_A_CREDENTIAL.test(name)) continue
    const value = (match[2] ?? match[3] ?? match[4] ?? '').replace(/[,;]+$/, '')
    if (value.length < 6 || PLACEHOLDER.test(value) || REFERENCE.test(value)) continue
    if (PASSWORD_NAME.test(name) || looksRandom(value)) return true
  }
  return false
}

const RULES: Rule[] = [
  {kind: 'private key', pattern: /-{4,5} ?BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}|^PuTTY-User-Key-File-\d+:/},
  {kind: 'AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/},
  {kind: 'GitHub token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b/},
  {kind: 'npm access token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/},
  {kind: 'PyPI token', pattern: /\bpypi-AgE[A-Za-z0-9_-]{50,}/},
  {kind: 'Hugging Face token', pattern: /\bhf_[A-Za-z0-9]{34,}\b/},
  {kind: 'Slack token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/},
  {kind: 'Discord webhook', pattern: /discord(?:app)?\.com\/api\/webhooks\/\d+\/[\w-]{20,}/},
  {kind: 'API key (sk-…)', pattern: /\bsk-[A-Za-z0-9_-]{20,}/},
  {kind: 'credentials in an Authorization header', pattern: /Authorization:\s*(?:Basic|Bearer|token)\s+[A-Za-z0-9+/=._~-]{12,}/i},
  {kind: 'password in a URL', valued: true, pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*:([^\s@/'"]{3,})@[^\s/'"]/i},
  {kind: 'password in a .netrc entry', valued: true, pattern: /(?:^|\s)password\s+(?!\s)(\S{3,})/},
  {kind: 'kubeconfig credential', valued: true, pattern: /^\s*(?:client-key-data|token|id-token|refresh-token)\s*:\s*["']?([A-Za-z0-9+/=._-]{20,})/},
]

/** `.pgpass`: host:port:database:user:password. */
const PGPASS_LINE = /^[^#:\s][^:\s]*:(?:\d+|\*):[^:\s]+:[^:\s]+:\S+$/

/** fleet's own rules, line by line (so a finding names its line, and a placeholder value is let through). */
function ruleFindings(text: string, file: string): SecretFinding[] {
  const findings: SecretFinding[] = []
  const pgpass = /(^|\/)\.?pgpass$/.test(file)
  for (const [i, line] of text.split(/\r?\n|\r/).entries()) {
    const rule = RULES.find(({pattern, valued}) => {
      const match = pattern.exec(line)
      return match !== null && !(valued && match[1] !== undefined && PLACEHOLDER.test(match[1]))
    })
    if (rule) findings.push({kind: rule.kind, line: i + 1})
    else if (credentialAssignment(line)) findings.push({kind: 'credential assignment', line: i + 1})
    else if (pgpass && PGPASS_LINE.test(line)) findings.push({kind: 'password in a .pgpass entry', line: i + 1})
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
      return result.messages.map((m) => ({
        kind: m.message
          .split(':')[0]
          .replace(/^found /i, '')
          .trim(),
        line: m.loc.start.line,
      }))
    }
  })()
  return secretlint
}

/**
 * What in `text` looks like a secret, by both detectors, one finding per line at most (the first kind found).
 * `file` is the path the text comes from (secretlint's rules look at it). Never throws for odd input; binary text
 * has no findings.
 */
export async function findSecrets(text: string, file: string): Promise<SecretFinding[]> {
  if (text.length === 0) return []
  // Binary contents are read as the text runs between their NUL bytes: a token in a binary file is still a token.
  if (text.includes('\0')) text = text.replace(/\0+/g, '\n')
  const own = ruleFindings(text, file)
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
