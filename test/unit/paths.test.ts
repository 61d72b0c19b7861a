// Where fleet keeps things: under HOME and the XDG base directories on every OS, logs where the OS expects.
import assert from 'node:assert/strict'
import {homedir} from 'node:os'

import {fleetPaths, homeRelative} from '../../src/lib/platform/paths.ts'

describe('paths: fleetPaths', function () {
  it('puts everything under HOME by default (linux)', function () {
    const paths = fleetPaths({HOME: '/home/ann'}, 'linux')
    assert.deepEqual(paths, {
      home: '/home/ann',
      chezmoiConfigDir: '/home/ann/.config/chezmoi',
      chezmoiConfigFile: '/home/ann/.config/chezmoi/chezmoi.yaml',
      chezmoiStateFile: '/home/ann/.config/chezmoi/chezmoistate.boltdb',
      captureConfigFile: '/home/ann/.config/fleet/chezmoi-capture.yaml',
      sourceDir: '/home/ann/.local/share/chezmoi',
      configDir: '/home/ann/.config/fleet',
      identityFile: '/home/ann/.config/fleet/identity.txt',
      identityNextFile: '/home/ann/.config/fleet/identity.txt.next',
      identityOldFile: '/home/ann/.config/fleet/identity.txt.old',
      recipientsFile: '/home/ann/.config/fleet/recipients.txt',
      dataDir: '/home/ann/.local/share/fleet',
      defaultForge: '/home/ann/.local/share/fleet/forge.git',
      stateDir: '/home/ann/.local/state/fleet',
      backupsDir: '/home/ann/.local/state/fleet/backups',
      chezmoiCheckedFile: '/home/ann/.local/state/fleet/chezmoi-checked.json',
      installedAgentsFile: '/home/ann/.local/state/fleet/agents.json',
      doctorSummaryFile: '/home/ann/.local/state/fleet/doctor-summary.json',
      logDir: '/home/ann/.local/state/fleet/log',
      launchAgentsDir: '/home/ann/Library/LaunchAgents',
      systemdUserDir: '/home/ann/.config/systemd/user',
    })
  })

  it('follows HOME, not the account database', function () {
    const paths = fleetPaths({HOME: '/tmp/sandbox-home'}, 'linux')
    assert.equal(paths.home, '/tmp/sandbox-home')
    assert.equal(paths.identityFile, '/tmp/sandbox-home/.config/fleet/identity.txt')
  })

  it('falls back to the home directory when HOME is unset or empty', function () {
    assert.equal(fleetPaths({}, 'linux').home, homedir())
    assert.equal(fleetPaths({HOME: ''}, 'linux').home, homedir())
  })

  it('honours absolute XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_STATE_HOME', function () {
    const paths = fleetPaths({HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg', XDG_DATA_HOME: '/data', XDG_STATE_HOME: '/state'}, 'linux')
    assert.equal(paths.chezmoiConfigFile, '/cfg/chezmoi/chezmoi.yaml')
    assert.equal(paths.identityFile, '/cfg/fleet/identity.txt')
    assert.equal(paths.sourceDir, '/data/chezmoi')
    assert.equal(paths.defaultForge, '/data/fleet/forge.git')
    assert.equal(paths.backupsDir, '/state/fleet/backups')
    assert.equal(paths.logDir, '/state/fleet/log')
    assert.equal(paths.systemdUserDir, '/cfg/systemd/user', 'systemd reads user units from XDG_CONFIG_HOME too')
    assert.equal(paths.home, '/home/ann')
  })

  it('ignores relative XDG values, as the XDG spec requires', function () {
    const relative = fleetPaths({HOME: '/home/ann', XDG_CONFIG_HOME: 'cfg', XDG_DATA_HOME: './data', XDG_STATE_HOME: '~/state'}, 'linux')
    assert.deepEqual(relative, fleetPaths({HOME: '/home/ann'}, 'linux'))
  })

  it('ignores an empty XDG value', function () {
    assert.deepEqual(fleetPaths({HOME: '/home/ann', XDG_CONFIG_HOME: ''}, 'linux'), fleetPaths({HOME: '/home/ann'}, 'linux'))
  })

  it('puts logs under ~/Library/Logs/fleet on darwin, and everything else in the XDG places', function () {
    const mac = fleetPaths({HOME: '/Users/ann', XDG_STATE_HOME: '/state'}, 'darwin')
    assert.equal(mac.logDir, '/Users/ann/Library/Logs/fleet')
    assert.equal(mac.launchAgentsDir, '/Users/ann/Library/LaunchAgents')
    assert.equal(mac.configDir, '/Users/ann/.config/fleet', 'config follows XDG on macOS too, as chezmoi does')
    assert.equal(mac.sourceDir, '/Users/ann/.local/share/chezmoi')
    assert.equal(mac.stateDir, '/state/fleet')
  })
})

describe('paths: homeRelative', function () {
  it('gives the path relative to HOME, or undefined outside it', function () {
    assert.equal(homeRelative({home: '/home/ann'}, '/home/ann/.config/fleet/x'), '.config/fleet/x')
    assert.equal(homeRelative({home: '/home/ann/'}, '/home/ann/.vimrc'), '.vimrc')
    assert.equal(homeRelative({home: '/home/ann'}, '/home/anna/.vimrc'), undefined, 'a sibling with the same prefix is outside')
    assert.equal(homeRelative({home: '/home/ann'}, '/etc/passwd'), undefined)
    assert.equal(homeRelative({home: '/home/ann'}, '/home/ann'), undefined)
  })
})
