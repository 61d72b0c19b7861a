// An agent a hook returns is checked before it is installed: a plugin's agent keeps to its own names (its id starts
// with its short name, its label is dev.dotfleet.<id>), so it can neither take another plugin's agent's name nor
// write its launchd or systemd files over another program's; the core's watcher and puller are the core's own.
import assert from 'node:assert/strict'

import {CORE_SOURCE, coreAgents, validateSpec} from '../../src/lib/agents/spec.ts'
import {agentSettingsSchema} from '../../src/lib/manifest/schema.ts'

const TYPED = '@dotfleet/plugin-typed'
const agent = {id: 'typed-hello', label: 'dev.dotfleet.typed-hello', description: 'Greets.', argv: ['typed', 'hello'], intervalSeconds: 600}

/** Why validateSpec refuses `value` from `source` (undefined when it accepts it). */
function refusal(value: unknown, source = TYPED): string | undefined {
  try {
    validateSpec(value, source)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

describe('an agent a hook returns', function () {
  it('from a plugin: its id starts with the short name and its label is dev.dotfleet.<id>, under its own scope too', function () {
    assert.equal(refusal(agent), undefined)
    assert.equal(refusal({...agent, id: 'typed', label: 'dev.dotfleet.typed'}), undefined)
    assert.equal(refusal({...agent, id: 'x-pull', label: 'dev.dotfleet.x-pull'}, '@me/plugin-x'), undefined)
    assert.equal(refusal({...agent, id: 'fleet-plugin-x-pull', label: 'dev.dotfleet.fleet-plugin-x-pull'}, '@me/fleet-plugin-x'), undefined)

    assert.equal(refusal({...agent, id: 'watcher', label: 'dev.dotfleet.watcher'}), 'id must start with the plugin\'s short name: "typed-…"')
    assert.equal(refusal({...agent, id: 'typedhello', label: 'dev.dotfleet.typedhello'}), 'id must start with the plugin\'s short name: "typed-…"')
    assert.equal(refusal({...agent, label: 'syncthing'}), 'label must be "dev.dotfleet.typed-hello"')
    assert.equal(refusal({...agent, label: 'dev.dotfleet.typed-other'}), 'label must be "dev.dotfleet.typed-hello"')
  })

  it('runs by exactly one of resident: true and intervalSeconds (a whole number ≥ 10), and says what is wrong', function () {
    const {intervalSeconds: _, ...neither} = agent
    assert.equal(refusal({...neither, resident: true}), undefined)
    assert.equal(refusal({...agent, resident: false}), undefined)
    assert.equal(refusal(neither), 'exactly one of resident: true or intervalSeconds')
    assert.equal(refusal({...agent, resident: true}), 'exactly one of resident: true or intervalSeconds')
    assert.equal(refusal({...agent, intervalSeconds: 5}), 'intervalSeconds must be a whole number ≥ 10')
    assert.equal(
      refusal({nonsense: true}),
      'id must be lowercase letters, digits and dashes; label must be letters, digits, dots and dashes; description must be a line of text; argv must be a list of strings; exactly one of resident: true or intervalSeconds',
    )
    assert.equal(refusal([agent]), 'an agent is {id, label, description, argv, resident or intervalSeconds}')
  })

  it('from the core: the watcher and the puller are accepted as they are', function () {
    for (const spec of coreAgents(agentSettingsSchema.parse({}))) assert.equal(refusal(spec, CORE_SOURCE), undefined)
  })
})
