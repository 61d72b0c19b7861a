// Commands printed in a fix are copied into a shell by a person: every word is quoted the POSIX way where it needs
// it, so a path with spaces, quotes, `$()` or `&<>` means itself. (fleet itself never runs a shell string.)

/** One word for a POSIX shell: as it is when it is safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}

/** A command line a person can paste, each word quoted as shellWord does: `shellCommand('git', '-C', dir, 'status')`. For a fix. */
export function shellCommand(...words: string[]): string {
  return words.map(shellWord).join(' ')
}

/** A path under $HOME as a shell word: `~/` kept outside the quotes, so the shell still expands it. */
export function homeShellPath(relative: string): string {
  const quoted = shellWord(relative)
  return quoted === relative ? `~/${relative}` : `~/${quoted}`
}
