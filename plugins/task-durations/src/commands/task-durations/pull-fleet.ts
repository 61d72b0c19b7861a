import {homedir} from 'node:os'

import {FleetCommand, readFleet} from '@dotfleet/fleet'

import {durationsPaths} from '../../lib/paths.ts'
import {CONNECT_TIMEOUT_SECONDS, inParallel, PEER_TIMEOUT_MS, PULL_CONCURRENCY, type PullReport, pullFleet, REMOTE_FILE} from '../../lib/pull.ts'
import {describePull, liveRunner, peerLine, showsLiveView} from '../../lib/pull-display.ts'
import {IDENTITY_VARIABLE} from '../../lib/ssh.ts'

export default class PullFleet extends FleetCommand {
  static override summary = "Copy every peer's recorded durations into this machine's fleet tree, over SSH (rsync)."
  static override description = `For each active machine in the roster with an SSH address (fleet machines address, on that machine), copies its ~/${REMOTE_FILE} — the plugin's default data directory, relative to the peer's home — into <data>/fleet/host=<peer>/local.parquet here, for estimate --fleet. A peer with FLEET_DATA_DIR set keeps its records under that directory instead, which is not pulled: it shows as having recorded nothing. Up to ${PULL_CONCURRENCY} peers at once, each within ${PEER_TIMEOUT_MS / 1000} s (${CONNECT_TIMEOUT_SECONDS} s to answer at all).

A download replaces a peer's copy only once it is a complete parquet file; an offline peer, a refused one or a bad file leaves its last good copy as it was. Host keys are pinned in <data>/known_hosts: recorded at the first contact, and a changed key is refused (the message says how to accept it after checking it). ssh logs in with its own settings (~/.ssh/config, the agent, ~/.ssh/id_*) unless ${IDENTITY_VARIABLE} names the private key to use; it never asks for a password.

Exits 0 when every peer was pulled, or had nothing to pull; 1 when any failed (the good copies are kept either way). The last pull and how each peer came out are recorded in <data>/last-pull.json, for fleet doctor. <data> is ~/.local/share/fleet/task-durations (under FLEET_DATA_DIR when set).`
  static override examples = [
    {description: "Pull every peer's file, showing each peer's progress", command: '<%= config.bin %> <%= command.id %>'},
    {description: 'The outcome per peer as JSON, for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Log in to the peers with a key of its own', command: `${IDENTITY_VARIABLE}=~/.ssh/fleet_ed25519 <%= config.bin %> <%= command.id %>`},
  ]
  static override enableJsonFlag = true

  async run(): Promise<PullReport> {
    await this.parse(PullFleet)
    const fleet = await readFleet()
    const json = this.jsonEnabled()
    const live = !json && showsLiveView(process.stdout, process.env)
    const runner = json ? inParallel() : live ? liveRunner() : inParallel((outcome) => this.log(peerLine(outcome)))
    const report = await pullFleet(fleet.peers, {paths: durationsPaths(), env: process.env}, runner)
    const output = describePull(report, homedir())
    this.render(json ? {exitCode: output.exitCode} : output)
    return report
  }
}
