// Starting a program that is not there: the message says where fleet looked, and what to change.
import assert from 'node:assert/strict'

import {FleetError} from '../../src/lib/errors/index.ts'
import {run} from '../../src/lib/process/run.ts'

describe('run: a missing program', function () {
  it('named by a path (FLEET_CHEZMOI=/opt/…): says nothing is at that path, not that PATH lacks it', async function () {
    await assert.rejects(run('/nonexistent/bin/chezmoi', ['--version']), (error: unknown) => {
      assert.ok(error instanceof FleetError)
      assert.equal(error.code, 'NOT_FOUND')
      assert.equal(error.message, 'There is no program at /nonexistent/bin/chezmoi')
      assert.match(error.fix ?? '', /FLEET_CHEZMOI/)
      return true
    })
  })

  it('named alone: says PATH was searched, and how to install it', async function () {
    await assert.rejects(run('fleet-no-such-program', []), (error: unknown) => {
      assert.ok(error instanceof FleetError)
      assert.equal(error.message, 'fleet-no-such-program was not found on PATH')
      assert.match(error.fix ?? '', /Install fleet-no-such-program/)
      return true
    })
  })
})
