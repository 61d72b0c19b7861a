import assert from 'node:assert/strict'

import {sharedTargets} from '../../src/lib/sync/source-check.ts'

describe('source check: one entry per target', function () {
  it('finds two entries for one target, whatever their attributes', function () {
    assert.deepEqual(sharedTargets(['dot_gitconfig', 'encrypted_private_dot_gitconfig.age', 'dot_zshrc']), [
      {target: '.gitconfig', entries: ['dot_gitconfig', 'encrypted_private_dot_gitconfig.age']},
    ])
    assert.deepEqual(sharedTargets(['dot_x.tmpl', 'private_dot_x']), [{target: '.x', entries: ['dot_x.tmpl', 'private_dot_x']}])
  })

  it('finds a remove_ marker beside the entry it names, and leaves one for another target alone', function () {
    assert.deepEqual(sharedTargets(['dot_claude/notes', 'dot_claude/remove_notes']), [
      {target: '.claude/notes', entries: ['dot_claude/notes', 'dot_claude/remove_notes']},
    ])
    assert.deepEqual(sharedTargets(['dot_claude/notes', 'dot_claude/remove_exact_notes']), [])
    assert.deepEqual(sharedTargets(['dot_claude/literal_dot_y', 'dot_claude/remove_dot_y']), [])
  })

  it('finds two directories for one target, and nothing in fleet and chezmoi files', function () {
    assert.deepEqual(sharedTargets(['dot_ssh/config', 'private_dot_ssh/known_hosts']), [{target: '.ssh', entries: ['dot_ssh/', 'private_dot_ssh/']}])
    assert.deepEqual(sharedTargets(['.chezmoidata/fleet.yaml', '.chezmoiignore', '.chezmoiremove', 'dot_config/fleet/x']), [])
  })
})
