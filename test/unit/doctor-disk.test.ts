// machine.disk: how much free space where the source repo lives is enough, too little to be comfortable, too little to sync.
import assert from 'node:assert/strict'

import {DISK_FAIL_BYTES, DISK_WARN_BYTES, diskFinding} from '../../src/lib/doctor/checks/machine.ts'

describe('doctor: free disk space', function () {
  it('plenty is ok, and says how much', function () {
    assert.deepEqual(diskFinding(84_213_000_000, '~/.local/share/chezmoi'), {
      status: 'ok',
      message: '84.2 GB free on the disk that holds ~/.local/share/chezmoi.',
    })
  })

  it('below about 500 MB: a warning; below about 50 MB: a failure; each with where to look', function () {
    const low = diskFinding(DISK_WARN_BYTES - 1, '~/.local/share/chezmoi')
    assert.equal(low.status, 'warn')
    assert.equal(low.message, 'Only 499 MB free on the disk that holds ~/.local/share/chezmoi.')
    assert.equal(low.fix, 'Free some space there (df -h ~/.local/share/chezmoi shows how much is left).')
    const full = diskFinding(DISK_FAIL_BYTES - 1, '~/.local/share/chezmoi')
    assert.equal(full.status, 'fail')
    assert.match(full.message, /^Only 49 MB free on the disk that holds ~\/\.local\/share\/chezmoi: a sync may not be able to write its commits\.$/)
    assert.equal(diskFinding(DISK_WARN_BYTES, '~').status, 'ok')
  })
})
