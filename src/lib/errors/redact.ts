// Forge addresses can carry credentials (https://user:token@host/…): they never reach a message or a log whole.
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/gi, (_match, scheme: string, userinfo: string) => {
    const user = userinfo.includes(':') ? userinfo.slice(0, userinfo.indexOf(':')) : ''
    return `${scheme}${user ? `${user}:` : ''}***@`
  })
}
