// The plugin API, as a plugin's author meets it: a plugin written in TypeScript (test/fixtures/plugins/typed) compiles
// against fleet's built types (dist/index.d.ts); a hook that returns the wrong shape does not; and once linked into an
// enrolled machine's fleet, its command reads the roster through readFleet, keeps its log in its data directory, gets
// fleet's exit codes and errors, and its agent and its check show up in `fleet agents list` and `fleet doctor`.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {execa} from 'execa'

import {NODE, REPO_ROOT} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import type {Machine} from '../support/machine.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

const FIXTURE = join(REPO_ROOT, 'test/fixtures/plugins/typed')
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc')

/** tsc on a project, as a plugin's build runs it: its exit code and what it printed. */
async function tsc(project: string): Promise<{exitCode: number; output: string}> {
  const run = await execa(NODE, [TSC, '-p', project, '--pretty', 'false'], {reject: false, all: true})
  return {exitCode: run.exitCode ?? -1, output: String(run.all)}
}

/**
 * Hooks that return the wrong shape, and PLUGINS.md's TypeScript excerpts (which must compile, but for the one that
 * shows a wrong hook), type-checked with the fixture's own settings, and so against dist/index.d.ts.
 */
function writeWrongHooksAndExcerpts(dir: string): string {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({type: 'module'}))
  writeFileSync(
    join(dir, 'wrong-agents.ts'),
    "import type {AgentsHook} from '@dotfleet/fleet'\n\nconst hook: AgentsHook = async function () {\n  return [{nonsense: true}]\n}\n\nexport default hook\n",
  )
  // An agent says when it runs by exactly one of `resident` and `intervalSeconds`: both, or neither, does not compile.
  writeFileSync(
    join(dir, 'wrong-agents-both.ts'),
    "import type {AgentsHook} from '@dotfleet/fleet'\n\nconst hook: AgentsHook = async function () {\n  return {id: 'typed-both', label: 'dev.dotfleet.typed-both', description: 'Both.', argv: ['typed', 'hello'], resident: true, intervalSeconds: 600}\n}\n\nexport default hook\n",
  )
  writeFileSync(
    join(dir, 'wrong-agents-neither.ts'),
    "import type {AgentsHook} from '@dotfleet/fleet'\n\nconst hook: AgentsHook = async function () {\n  return {id: 'typed-neither', label: 'dev.dotfleet.typed-neither', description: 'Neither.', argv: ['typed', 'hello']}\n}\n\nexport default hook\n",
  )
  writeFileSync(
    join(dir, 'wrong-doctor.ts'),
    "import type {DoctorHook} from '@dotfleet/fleet'\n\nconst hook: DoctorHook = async function () {\n  return {id: 'typed.mood', status: 'fine', message: 'All is well.'}\n}\n\nexport default hook\n",
  )
  const excerpts = [...readFileSync(join(REPO_ROOT, 'PLUGINS.md'), 'utf8').matchAll(/^```ts\n(.*?)^```/gms)].map((match) => match[1])
  for (const [index, excerpt] of excerpts.entries()) if (!excerpt.includes('nonsense')) writeFileSync(join(dir, `plugins-md-${index}.ts`), excerpt)
  assert.ok(excerpts.length >= 4, `PLUGINS.md has ${excerpts.length} TypeScript excerpts`)
  const tsconfig = {
    extends: join(FIXTURE, 'tsconfig.json'),
    compilerOptions: {noEmit: true, rootDir: '.', typeRoots: [join(REPO_ROOT, 'node_modules/@types')]},
    include: ['*.ts'],
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig))
  return join(dir, 'tsconfig.json')
}

describe('the plugin API: a TypeScript plugin built against fleet’s types', function () {
  let fleet: TestFleet
  let alpha: Machine
  let wrongDir: string
  let compiled: {exitCode: number; output: string}
  let wrong: {exitCode: number; output: string}
  /** The plugin manager's directory (FLEET_DATA_DIR), which the plugin's data directory is under. */
  let env: NodeJS.ProcessEnv

  before(async function () {
    wrongDir = makeTempDir('pluginapi-wrong')
    let started: TestFleet
    ;[compiled, wrong, started] = await Promise.all([
      tsc(join(FIXTURE, 'tsconfig.json')),
      tsc(writeWrongHooksAndExcerpts(wrongDir)),
      TestFleet.start('pluginapi', {machines: ['alpha', 'beta']}),
    ])
    fleet = started
    ;[alpha] = fleet.machines
    // No OCLIF_DISABLE_LINKED_ESM_WARNING: bin/run.js turns oclif's auto-transpiling off, so a linked plugin runs
    // from its dist without a warning (the usage error's stderr below is exactly fleet's two lines).
    env = {FLEET_DATA_DIR: join(alpha.home, 'fleet-data')}
    assert.equal(compiled.exitCode, 0, `the fixture plugin did not compile:\n${compiled.output}`)
    await alpha.ok(['plugins', 'link', FIXTURE, '--no-install'], {env})
  })
  after(async () => {
    removeTempDir(wrongDir)
    await fleet?.remove()
  })

  it('compiles against dist/index.d.ts, as PLUGINS.md’s excerpts do; a hook that returns the wrong shape (an agent with both or neither of resident and intervalSeconds) fails to compile, naming the file and the type', function () {
    assert.equal(compiled.output.trim(), '')
    assert.equal(wrong.exitCode, 2, wrong.output)
    const errors = wrong.output.split('\n').filter((line) => / error TS\d+:/.test(line))
    assert.deepEqual(
      errors.map((line) => /([\w-]+\.ts)\(\d+,\d+\): error (TS\d+): .*'(\w+)'\.$/.exec(line)?.slice(1)),
      [
        ['wrong-agents-both.ts', 'TS2322', 'AgentsHook'],
        ['wrong-agents-neither.ts', 'TS2322', 'AgentsHook'],
        ['wrong-agents.ts', 'TS2322', 'AgentsHook'],
        ['wrong-doctor.ts', 'TS2322', 'DoctorHook'],
      ],
      wrong.output,
    )
    assert.match(wrong.output, /Type '\{ nonsense: boolean; \}' is not assignable to type 'AgentSpec'\./)
    assert.match(wrong.output, /is not assignable to type 'ResidentAgentSpec'\.\n\s+Types of property 'intervalSeconds' are incompatible\./)
    assert.match(
      wrong.output,
      /Property 'intervalSeconds' is missing in type '\{ id: string; label: string; description: string; argv: string\[\]; \}' but required in type 'IntervalAgentSpec'/,
    )
    assert.match(wrong.output, /Type '"fine"' is not assignable to type 'CheckStatus'/)

    // PLUGINS.md's tsconfig is the fixture's (but for the `paths` only a plugin in this repository needs), and its
    // package.json declares the fixture's hooks and commands, fleet as an optional peer, and what the build needs.
    const [pkg, tsconfig] = [...readFileSync(join(REPO_ROOT, 'PLUGINS.md'), 'utf8').matchAll(/^```json\n(.*?)^```/gms)].map((match) => JSON.parse(match[1]))
    const {paths: _, ...fixtureOptions} = JSON.parse(readFileSync(join(FIXTURE, 'tsconfig.json'), 'utf8')).compilerOptions
    assert.deepEqual(tsconfig.compilerOptions, fixtureOptions)
    const fixturePkg = JSON.parse(readFileSync(join(FIXTURE, 'package.json'), 'utf8'))
    assert.deepEqual(pkg.oclif, fixturePkg.oclif)
    assert.deepEqual(pkg.peerDependenciesMeta, fixturePkg.peerDependenciesMeta)
    assert.deepEqual(Object.keys(pkg.devDependencies).sort(), ['@dotfleet/fleet', '@types/node', 'oclif', 'typescript'])
  })

  it('its command reads this machine and its peers through readFleet, writes under its data directory, and imports the fleet that runs it', async function () {
    const run = await alpha.ok(['typed', 'hello', '--json'], {env})
    const hello = run.json<{machine: string; greeted: string[]; log: string; api: string}>()
    assert.deepEqual({machine: hello.machine, greeted: hello.greeted}, {machine: 'alpha', greeted: ['beta']})
    assert.equal(hello.log, join(env.FLEET_DATA_DIR!, 'typed', 'hello.log'))
    assert.equal(readFileSync(hello.log, 'utf8'), 'alpha greeted beta\n')
    // `@dotfleet/fleet` is the running fleet's dist/index.js (bin/run.js), not a copy the plugin found for itself.
    assert.equal(hello.api, pathToFileURL(join(REPO_ROOT, 'dist/index.js')).href)

    const text = await alpha.ok(['typed', 'hello', 'beta'], {env})
    assert.equal(text.stdout, 'alpha says hello to beta.')
  })

  it('a bad argument is fleet’s usage error: exit 2, the compact JSON error under --json, the message and its fix without', async function () {
    const log = join(env.FLEET_DATA_DIR!, 'typed', 'hello.log')
    const logged = existsSync(log) ? readFileSync(log, 'utf8') : undefined
    const json = await alpha.fleet(['typed', 'hello', 'zeta', '--json'], {env})
    assert.equal(json.exitCode, 2, json.stderr)
    assert.deepEqual(JSON.parse(json.stdout), {
      error: {
        code: 'USAGE',
        message: '"zeta" is not a peer of alpha.',
        fix: 'Name one of its peers (beta); `fleet machines list` shows the roster.',
        exitCode: 2,
      },
    })
    const text = await alpha.fleet(['typed', 'hello', 'zeta'], {env})
    assert.equal(text.exitCode, 2)
    assert.equal(text.stderr, 'Error: "zeta" is not a peer of alpha.\nFix: Name one of its peers (beta); `fleet machines list` shows the roster.')
    assert.equal(text.stdout, '')
    // Nobody was greeted.
    assert.equal(existsSync(log) ? readFileSync(log, 'utf8') : undefined, logged)
  })

  it('its agent is in `fleet agents list`, and its check in `fleet doctor`', async function () {
    const {result} = await alpha.listAgents({env})
    const agent = result.agents.find((listed) => listed.id === 'typed-hello')
    assert.deepEqual(agent && {source: agent.source, label: agent.label, kind: agent.kind, intervalSeconds: agent.intervalSeconds}, {
      source: '@dotfleet/plugin-typed',
      label: 'dev.dotfleet.typed-hello',
      kind: 'interval',
      intervalSeconds: 600,
    })
    assert.deepEqual(result.failures, [])

    const doctor = await alpha.doctor({check: 'typed.peers', json: false, env})
    assert.match(doctor.stdout, /^typed\n {2}✓ typed\.peers +alpha can greet beta\.$/m)
  })
})
