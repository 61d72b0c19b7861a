import {Flags} from '@oclif/core'

import {FleetCommand} from '../lib/cli/base-command.ts'
import {runSteps} from '../lib/cli/progress.ts'
import {askToGoOn} from '../lib/cli/prompts.ts'
import {UsageError} from '../lib/errors/index.ts'
import {openLocalFleet} from '../lib/fleet/local.ts'
import {describeRotation} from '../lib/rotation/describe.ts'
import {askNewValues} from '../lib/cli/secret-input.ts'
import {
  replaceSecretValues,
  requestRotationOfAll,
  rotateCompromised,
  rotateOwnKey,
  type RotationReport,
  type StepRunner,
  withReplacedSecrets,
} from '../lib/rotation/rotate.ts'

export default class RotateKeys extends FleetCommand {
  static override summary = "Rotate this machine's age key, every machine's, or shut out a compromised machine."
  static override description = `A runbook of steps, each safe to interrupt: run the command again (or \`fleet sync\`) and it goes on from where it stopped.

Default — rotate this machine's key: make a new key (identity.txt.next, mode 0600), put it on the roster, re-encrypt every encrypted file for the new set of machines (reading with the old key) and verify each opens with the new key, push, swap the key files (the old key kept as identity.txt.old), sync, and remove the old key once every encrypted file at the forge opens with the new one.

--all — every active machine rotates its own key at its next sync (\`fleet status\` shows which machines are still on an old key); this machine rotates at once.

--machine NAME --compromised — revoke NAME, re-encrypt every file without it, push, and print what it could read and what must be done by hand: change the values where they were issued (its old ciphertext stays readable in the forge's history, and it has a clone), and remove its access to the forge.

A file this machine cannot open (damaged, or not encrypted for its key) never stops the others: it is named with its fix, the rest are re-encrypted, and the command exits 1 saying what is left. Only an active machine can rotate.

Exit codes: 0 done; 1 an error, or files left to re-encrypt; 2 usage (a pending or revoked machine, a missing --yes without a terminal); 3 the forge did not answer (run it again); 4 a conflict needs you.`

  static override examples = [
    {description: "Rotate this machine's key", command: '<%= config.bin %> <%= command.id %> --yes'},
    {description: 'See the plan, changing nothing', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'Ask every machine to rotate its key at its next sync', command: '<%= config.bin %> <%= command.id %> --all --yes'},
    {
      description: 'A laptop was stolen: shut it out and list what to change',
      command: '<%= config.bin %> <%= command.id %> --machine old-laptop --compromised --yes',
    },
  ]

  static override enableJsonFlag = true
  static override flags = {
    'dry-run': Flags.boolean({summary: 'Print the plan and change nothing.'}),
    yes: Flags.boolean({summary: 'Go ahead without asking (needed without a terminal).'}),
    all: Flags.boolean({summary: 'Every active machine rotates its own key at its next sync; this one at once.', exclusive: ['machine', 'compromised']}),
    machine: Flags.string({summary: 'The machine that is compromised (with --compromised).', helpValue: '<name>', dependsOn: ['compromised']}),
    compromised: Flags.boolean({summary: 'Revoke --machine, re-encrypt without it, and print the runbook for what it could read.', dependsOn: ['machine']}),
  }

  async run(): Promise<RotationReport> {
    const {flags} = await this.parse(RotateKeys)
    const local = await openLocalFleet()
    const dryRun = flags['dry-run']
    const json = this.jsonEnabled()
    const steps: StepRunner = (list) => runSteps(list, {}, {json})
    const rotate = (options: {dryRun: boolean; runSteps: StepRunner}) =>
      flags.compromised ? rotateCompromised(local, flags.machine!, options) : flags.all ? requestRotationOfAll(local, options) : rotateOwnKey(local, options)
    if (!dryRun && !flags.yes) {
      const plan = await rotate({dryRun: true, runSteps: steps})
      if (!this.interactive)
        throw new UsageError(
          'rotate-keys changes keys and re-encrypts files: it asks first.',
          'Pass --yes to go ahead without a terminal (--dry-run shows the plan).',
          'CONFIRM',
        )
      this.render({lines: plan.plan.slice(0, -1)})
      if (!(await askToGoOn('Go ahead?'))) {
        this.log('Nothing was changed.')
        return plan
      }
    }
    let report = await rotate({dryRun, runSteps: steps})
    // After a compromise, in a terminal: the new value of each secret it could read, asked one by one (or later).
    const secrets = report.mode === 'compromised' && !dryRun && !flags.yes && this.interactive ? (report.secretValues ?? []) : []
    if (secrets.length > 0) {
      this.render({lines: [`${report.revoked} could read ${secrets.length} secret(s). Give each its new value once you have changed it where it was issued.`]})
      report = withReplacedSecrets(report, await replaceSecretValues(local, await askNewValues(secrets)))
    }
    this.render(describeRotation(report))
    if (report.secretsReplaced?.length) await this.syncAndReport(local, {reason: 'rotate-keys'})
    return report
  }
}
