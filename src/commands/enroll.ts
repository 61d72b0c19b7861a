import {Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {describeEnrollment} from '../lib/enroll/describe.ts'
import {ENROLL_STEPS, EnrollContext, enrollResult, type EnrollResult} from '../lib/enroll/enroll.ts'
import {answersFromWizard, answersWithoutPrompts} from '../lib/enroll/wizard.ts'
import {withFleetLock} from '../lib/lock/fleet-lock.ts'
import {KEY_TYPES} from '../lib/manifest/schema.ts'
import {fleetPaths} from '../lib/platform/paths.ts'

export default class Enroll extends FleetCommand {
  static override summary = 'Join this machine to a fleet, or start a new one.'
  static override description = `In a terminal, enroll asks for whatever the flags leave open (start or join, machine name, key type, agents, and whether to record ~/.ssh/id_ed25519.pub when it exists) and shows a summary to confirm. Every answer is also a flag, so it runs unattended; --yes takes the defaults.

Starting a fleet makes this machine its first, active machine; without --forge the forge is a bare git repository in fleet's data directory. Joining clones the fleet and adds this machine as pending: plain files sync at once, encrypted ones once an active machine runs \`fleet machines approve <name>\`.

Running enroll again checks and repairs this machine's enrollment: it never duplicates a roster entry and never replaces an existing age key. With --ssh-key it records (or replaces) this machine's SSH public key: the fleet keeps the active machines' keys in a marked block of ~/.ssh/authorized_keys on every machine, and every other line of that file stays as it is. With --ssh-address it records how the other machines reach this one over SSH, for plugins that copy files between machines. A revoked machine, or its name, never joins again: enroll under a new name and have an active machine approve it.`

  static override examples = [
    {description: 'Start a new fleet on a bare repository on this machine, taking every default', command: '<%= config.bin %> <%= command.id %> --yes'},
    {
      description: 'Join a fleet over SSH, unattended',
      command: '<%= config.bin %> <%= command.id %> --forge ssh://git@forge.example.com/me/dotfiles.git --name laptop --no-agents',
    },
    {
      description: 'Join a fleet kept on GitHub, without the background agents',
      command: '<%= config.bin %> <%= command.id %> --forge git@github.com:me/fleet.git --name laptop --no-agents',
    },
    {
      description: 'Start a fleet on an empty hosted repository with classic X25519 keys',
      command: '<%= config.bin %> <%= command.id %> --forge git@github.com:me/fleet.git --name studio --key-type x25519 --agents',
    },
    {
      description: "Record this machine's SSH public key (again with another key to replace it): the fleet's active machines can log in to each other",
      command: '<%= config.bin %> <%= command.id %> --ssh-key ~/.ssh/id_ed25519.pub',
    },
    {
      description: "Record how this machine's peers reach it over SSH (change it later with `fleet machines address`)",
      command: '<%= config.bin %> <%= command.id %> --ssh-address me@laptop.local:2222',
    },
    {description: 'Check and repair this machine (after an interruption, or once it was approved)', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    forge: Flags.string({summary: 'Git URL (or path) of the fleet to join, or of an empty repository to start one in.', helpValue: '<url>'}),
    name: Flags.string({summary: 'Name of this machine in the fleet (default: the short host name).', helpValue: '<name>'}),
    'key-type': Flags.option({
      options: KEY_TYPES,
      summary: 'age key type for a new fleet: pq (hybrid post-quantum, default) or x25519. A joined fleet decides its own.',
    })(),
    agents: Flags.boolean({allowNo: true, summary: 'Install the background agents (--no-agents: do not).'}),
    adopt: Flags.boolean({summary: "Take over an existing chezmoi setup that is not this fleet's (nothing is deleted)."}),
    'ssh-key': Flags.string({
      summary: "This machine's SSH public key file, recorded in the roster: every active machine's key goes into the others' ~/.ssh/authorized_keys.",
      helpValue: '<file.pub>',
    }),
    'ssh-address': Flags.string({
      summary: "How this machine's peers reach it over SSH ([user@]host[:port]), recorded in the roster for plugins that copy files between machines.",
      helpValue: '<address>',
    }),
    yes: Flags.boolean({char: 'y', summary: 'Take the defaults for every answer the flags leave open; ask nothing.'}),
  }

  async run(): Promise<EnrollResult> {
    const {flags} = await this.parse(Enroll)
    const paths = fleetPaths()
    const given = {
      forge: flags.forge,
      name: flags.name,
      keyType: flags['key-type'],
      agents: flags.agents,
      adopt: flags.adopt || undefined,
      sshKey: flags['ssh-key'],
      sshAddress: flags['ssh-address'],
      yes: flags.yes,
    }
    const options = !flags.yes && this.interactive ? await answersFromWizard(given, paths, (line) => this.log(line)) : await answersWithoutPrompts(given, paths)
    // Quiet: a warning would break into the steps' progress; the summary says which agents were installed.
    const contributedAgents = async () => (await this.contributedAgents({quiet: true})).agents
    const ctx = new EnrollContext({...options, contributedAgents})
    await withFleetLock(ctx.paths, 'enroll', async () => {
      const {runSteps} = await import('../lib/cli/progress.ts')
      await runSteps(ENROLL_STEPS, ctx, {json: this.jsonEnabled()})
    })
    const result = enrollResult(ctx)
    this.render({lines: describeEnrollment(result)})
    return result
  }
}
