// The answers enroll needs: from flags, from the existing enrollment, from questions in a terminal, or (with
// --yes) from the defaults. Without a terminal, a missing answer is an error that names its flag.
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {configuredMachine, foreignConfigFiles} from '../chezmoi/config.ts'
import {FleetError, UsageError} from '../errors/index.ts'
import {readSshPublicKey} from '../fleet/authorized-keys.ts'
import {parseSshAddress} from '../fleet/ssh-address.ts'
import {probeForge} from '../forge/forge.ts'
import {KEY_TYPE_LABELS} from '../keys/identity.ts'
import {DEFAULT_KEY_TYPE, type KeyType, MACHINE_NAME_PATTERN, machineNameRule} from '../manifest/schema.ts'
import {type FleetPaths, shortHostname} from '../platform/paths.ts'
import {type EnrollOptions, inspectSource} from './enroll.ts'

export interface EnrollFlags {
  forge?: string
  name?: string
  keyType?: KeyType
  agents?: boolean
  adopt?: boolean
  /** A file holding this machine's SSH public key, for the roster. */
  sshKey?: string
  /** How this machine's peers reach it over SSH, `[user@]host[:port]`, for the roster. */
  sshAddress?: string
  yes: boolean
}

export function defaultMachineName(): string {
  const name = shortHostname()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
  return MACHINE_NAME_PATTERN.test(name) ? name : 'machine'
}

export function validateName(name: string): string {
  if (!MACHINE_NAME_PATTERN.test(name)) {
    throw new UsageError(`"${name}" cannot be a machine name: use ${machineNameRule}.`, 'Pass another --name, for example --name laptop.', 'BAD_NAME')
  }
  return name
}

function needFlag(flag: string, what: string): UsageError {
  return new UsageError(
    `fleet enroll needs ${what}, and cannot ask for it here (no terminal).`,
    `Pass ${flag}, or --yes to take the defaults (a new fleet on this machine's own forge, named after the host, post-quantum keys, agents installed).`,
    'MISSING_ANSWER',
  )
}

/** The `--ssh-address` given, trimmed, once it reads as an SSH address (a UsageError, exit 2, saying the forms, if not). */
function sshAddressOf(flags: EnrollFlags): string | undefined {
  if (flags.sshAddress === undefined) return undefined
  parseSshAddress(flags.sshAddress)
  return flags.sshAddress.trim()
}

/** Answers without asking anybody: flags, then the existing enrollment, then (with --yes) the defaults. */
export async function answersWithoutPrompts(flags: EnrollFlags, paths: FleetPaths): Promise<EnrollOptions> {
  const enrolledAs = await configuredMachine(paths)
  const source = await inspectSource(paths)
  const repairing = enrolledAs !== undefined && source.kind === 'fleet'
  const name = flags.name ?? enrolledAs ?? (flags.yes ? defaultMachineName() : undefined)
  if (name === undefined) throw needFlag('--name <name>', 'a machine name')
  if (flags.forge === undefined && !repairing && !flags.yes) throw needFlag('--forge <url>', 'the forge to start the fleet on or join')
  const agents = flags.agents ?? (flags.yes || repairing ? true : undefined)
  if (agents === undefined) throw needFlag('--agents or --no-agents', 'whether to install background agents')
  const sshPublicKey = flags.sshKey === undefined ? undefined : await readSshPublicKey(flags.sshKey)
  return {
    forge: flags.forge,
    name: validateName(name),
    keyType: flags.keyType,
    agents,
    adopt: flags.adopt ?? false,
    sshPublicKey,
    sshAddress: sshAddressOf(flags),
  }
}

/** Ask in the terminal for every answer the flags left open, then show a summary to confirm. */
export async function answersFromWizard(flags: EnrollFlags, paths: FleetPaths, log: (line: string) => void): Promise<EnrollOptions> {
  try {
    return await askEverything(flags, paths, log)
  } catch (error) {
    // Ctrl-C at a question: say so in fleet's words, not the prompt library's.
    if (error instanceof Error && error.name === 'ExitPromptError') throw new FleetError('Stopped: nothing was changed.', {code: 'CANCELLED'})
    throw error
  }
}

async function askEverything(flags: EnrollFlags, paths: FleetPaths, log: (line: string) => void): Promise<EnrollOptions> {
  const {confirm, input, select} = await import('@inquirer/prompts')
  const sshAddress = sshAddressOf(flags) // a flag that cannot be used is refused before anything is asked
  const enrolledAs = await configuredMachine(paths)
  const source = await inspectSource(paths)
  if (enrolledAs !== undefined && source.kind === 'fleet') {
    log(`This machine is enrolled as "${enrolledAs}" in the fleet at ${source.origin ?? '(no forge)'}: enroll will check and repair it.`)
    return answersWithoutPrompts({...flags, yes: true}, paths)
  }

  let forge = flags.forge
  let starting = false
  if (forge === undefined) {
    const choice = await select({
      message: 'Start a new fleet, or join an existing one?',
      choices: [
        {name: 'Start a new fleet', value: 'start', description: 'This machine becomes the first, active machine.'},
        {name: 'Join an existing fleet', value: 'join', description: 'This machine joins as pending until an active machine approves it.'},
      ],
    })
    starting = choice === 'start'
    const reachable = async (url: string) => {
      try {
        const probe = await probeForge(url.trim())
        if (!starting && probe.empty) return 'That repository is empty: there is no fleet to join there.'
        return true
      } catch (error) {
        return error instanceof FleetError ? error.message : String(error)
      }
    }
    forge = starting
      ? (
          await input({
            message: 'Forge URL (an empty git repository; leave empty for a bare repository on this machine):',
            validate: async (value) => (value.trim() === '' ? true : reachable(value)),
          })
        ).trim() || undefined
      : (
          await input({
            message: 'Forge URL of the fleet to join:',
            validate: async (value) => (value.trim() === '' ? 'A forge URL is needed to join.' : reachable(value)),
          })
        ).trim()
  }

  const name =
    flags.name ??
    (await input({
      message: 'Name for this machine:',
      default: defaultMachineName(),
      validate: (value) => MACHINE_NAME_PATTERN.test(value) || `Use ${machineNameRule}.`,
    }))

  let keyType = flags.keyType
  if (keyType === undefined && starting) {
    keyType = await select<KeyType>({
      message: 'Key type for this fleet:',
      choices: [
        {name: `Hybrid post-quantum (recommended)`, value: 'pq', description: KEY_TYPE_LABELS.pq},
        {name: 'X25519', value: 'x25519', description: 'Classic age keys, for tools that do not read post-quantum keys yet.'},
      ],
    })
  }

  const agents = flags.agents ?? (await confirm({message: 'Install background agents (sync on every save)?', default: true}))

  let sshKey = flags.sshKey
  const usualKey = join(paths.home, '.ssh', 'id_ed25519.pub')
  if (sshKey === undefined && existsSync(usualKey)) {
    const record = await confirm({
      message: `Record your SSH key ${usualKey} in the roster? Once this machine is active, the fleet's machines can log in to each other with their keys.`,
      default: true,
    })
    if (record) sshKey = usualKey
  }
  // Checked before the summary: a file that is not a public key is refused before anything is asked to confirm.
  const sshPublicKey = sshKey === undefined ? undefined : await readSshPublicKey(sshKey)

  let adopt = flags.adopt ?? false
  const foreign = source.kind === 'foreign' ? [paths.sourceDir] : []
  foreign.push(...foreignConfigFiles(paths))
  if (foreign.length > 0 && !adopt) {
    const choice = await select({
      message: `chezmoi is already set up here (${foreign.join(', ')}), not by this fleet. What should fleet do?`,
      choices: [
        {name: 'Adopt it', value: 'adopt', description: 'Keep its files: a new fleet takes the source repo over; joining moves it aside (never deleted).'},
        {name: 'Stop', value: 'stop', description: 'Change nothing.'},
      ],
    })
    if (choice === 'stop') throw new FleetError('Stopped: nothing was changed.', {code: 'CANCELLED'})
    adopt = true
  }

  log('')
  log('Summary')
  log(
    `  fleet:      ${forge === undefined ? `start a new fleet on a bare repository on this machine (${paths.defaultForge})` : `${starting ? 'start a new fleet on' : 'join'} ${forge}`}`,
  )
  log(`  machine:    ${name}`)
  if (starting) log(`  key type:   ${KEY_TYPE_LABELS[keyType ?? DEFAULT_KEY_TYPE]}`)
  log(`  agents:     ${agents ? 'install' : 'do not install'}`)
  log(`  ssh key:    ${sshKey ?? 'none recorded'}`)
  if (sshAddress) log(`  ssh address: ${sshAddress}`)
  if (adopt) log(`  existing:   adopt ${foreign.join(', ')}`)
  log(`  key file:   ${paths.identityFile}${existsSync(paths.identityFile) ? ' (exists; reused)' : ' (created, mode 0600)'}`)
  log('')
  if (!(await confirm({message: 'Enroll this machine?', default: true}))) throw new FleetError('Stopped: nothing was changed.', {code: 'CANCELLED'})
  return {forge, name: validateName(name), keyType, agents, adopt, sshPublicKey, sshAddress}
}
