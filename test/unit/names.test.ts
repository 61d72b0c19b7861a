import assert from 'node:assert/strict'

import {decodeSourcePath, encodeTargetName, escapeGlob, privateEncryptedName, removeEntryName} from '../../src/lib/managed/names.ts'

describe('managed path names', function () {
  it('gives an encrypted file private_, so that it lands decrypted with mode 0600', function () {
    assert.equal(privateEncryptedName('encrypted_dot_netrc.age'), 'encrypted_private_dot_netrc.age')
    assert.equal(privateEncryptedName('create_encrypted_executable_x.age'), 'create_encrypted_private_executable_x.age')
    assert.equal(privateEncryptedName('encrypted_private_dot_netrc.age'), undefined, 'already private')
    assert.equal(privateEncryptedName('dot_zshrc'), undefined, 'not encrypted')
  })

  it('names the remove_ entry of a source file, dropping every attribute and suffix', function () {
    assert.equal(removeEntryName('dot_zshrc'), 'remove_dot_zshrc')
    assert.equal(removeEntryName('encrypted_private_dot_netrc.age'), 'remove_dot_netrc')
    assert.equal(removeEntryName('executable_private_run.sh.tmpl'), 'remove_run.sh')
    assert.equal(removeEntryName('create_readonly_x'), 'remove_x')
    assert.equal(removeEntryName('plain.age'), 'remove_plain.age', 'only an encrypted file loses .age')
  })

  it('decodes a source path into its target path', function () {
    assert.equal(decodeSourcePath('dot_config/private_fleet/encrypted_private_secrets.env.age'), '.config/fleet/secrets.env')
    assert.equal(decodeSourcePath('private_dot_ssh/config.tmpl'), '.ssh/config')
    assert.equal(decodeSourcePath('exact_dot_vim/literal_dot_keep'), '.vim/dot_keep')
    assert.equal(decodeSourcePath(`dot_config/we "q" $(x) &<> é.txt`), `.config/we "q" $(x) &<> é.txt`)
    assert.equal(encodeTargetName('.bashrc'), 'dot_bashrc')
    assert.equal(encodeTargetName('notes.md'), 'notes.md')
  })

  it('escapes glob characters for .chezmoiremove', function () {
    assert.equal(escapeGlob('a*b?[c]{d}\\e'), 'a\\*b\\?\\[c\\]\\{d\\}\\\\e')
    assert.equal(escapeGlob('.config/plain dir'), '.config/plain dir')
  })
})
