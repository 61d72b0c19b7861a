// Rendering an AgentSpec into the service manager's own definition files: a launchd plist (through the plist
// package) or systemd user units (through unit-file.ts).
import {build} from 'plist'

import type {AgentSpec} from './spec.ts'
import {commandLine, environmentAssignment, plainValue, serializeUnit} from './unit-file.ts'

export type ManagerKind = 'launchd' | 'systemd'
export const MANAGER_KINDS: ManagerKind[] = ['launchd', 'systemd']

/** What an agent needs to start the same way the person's fleet does, captured at install time. */
export interface RenderContext {
  /** Absolute path of node. */
  node: string
  /** Absolute path of fleet's CLI entry (bin/run.js). */
  entry: string
  /** Environment for the agent: PATH with git, chezmoi and age, and any XDG directories fleet uses. */
  env: Record<string, string>
  /** Where launchd writes the agent's output (~/Library/Logs/fleet). */
  launchdLogDir: string
}

export interface RenderedFile {
  /** File name inside the manager's directory. */
  name: string
  content: string
}

const HEADER = 'Written by fleet (fleet agents install); fleet rewrites it when the agent changes.'

export function programArguments(spec: AgentSpec, ctx: RenderContext): string[] {
  return [ctx.node, ctx.entry, ...spec.argv]
}

export function renderLaunchd(spec: AgentSpec, ctx: RenderContext): RenderedFile[] {
  const log = `${ctx.launchdLogDir}/${spec.id}.log`
  const plist: Record<string, unknown> = {
    Label: spec.label,
    ProgramArguments: programArguments(spec, ctx),
    EnvironmentVariables: ctx.env,
    RunAtLoad: true,
    ProcessType: 'Background',
    StandardOutPath: log,
    StandardErrorPath: log,
    // launchd starts a job at most once per ThrottleInterval (10 s by default); said here so it is visible.
    ThrottleInterval: 10,
  }
  if (spec.resident) plist.KeepAlive = true
  if (spec.intervalSeconds !== undefined) plist.StartInterval = spec.intervalSeconds
  return [{name: `${spec.label}.plist`, content: build(plist as Parameters<typeof build>[0])}]
}

export function renderSystemd(spec: AgentSpec, ctx: RenderContext): RenderedFile[] {
  const environment = Object.entries(ctx.env).map(([name, value]) => environmentAssignment(name, value))
  const service = serializeUnit(
    [
      ['Unit', [['Description', plainValue(spec.description)]]],
      [
        'Service',
        [
          ['Type', spec.resident ? 'simple' : 'oneshot'],
          ['ExecStart', commandLine(programArguments(spec, ctx))],
          ['Environment', environment],
          ...(spec.resident
            ? ([
                ['Restart', 'always'],
                ['RestartSec', 10],
              ] as Array<[string, string | number]>)
            : []),
          // SIGTERM lets a sync finish its step; give it time before systemd escalates.
          ['TimeoutStopSec', 120],
        ],
      ],
      ...(spec.resident ? ([['Install', [['WantedBy', 'default.target']]]] as Array<[string, Array<[string, string]>]>) : []),
    ],
    HEADER,
  )
  const files: RenderedFile[] = [{name: `${spec.label}.service`, content: service}]
  if (spec.intervalSeconds !== undefined) {
    const timer = serializeUnit(
      [
        ['Unit', [['Description', plainValue(`Timer for ${spec.description}`)]]],
        [
          'Timer',
          [
            // A timer with only OnUnitActiveSec never fires the first time: OnActiveSec starts the cycle.
            ['OnActiveSec', '30s'],
            ['OnUnitActiveSec', `${spec.intervalSeconds}s`],
            ['Unit', `${spec.label}.service`],
          ],
        ],
        ['Install', [['WantedBy', 'timers.target']]],
      ],
      HEADER,
    )
    files.push({name: `${spec.label}.timer`, content: timer})
  }
  return files
}

export function render(kind: ManagerKind, spec: AgentSpec, ctx: RenderContext): RenderedFile[] {
  return kind === 'launchd' ? renderLaunchd(spec, ctx) : renderSystemd(spec, ctx)
}
