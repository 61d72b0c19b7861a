import assert from 'node:assert/strict'

import {decodeSourcePath, encodeTargetName, escapeGlob, looksLikeSecret, looksLikeSecretContent, removeEntryName} from '../../src/lib/managed/names.ts'

describe('managed path names', function () {
  it('recognises names that probably hold secrets, and not ordinary ones', function () {
    for (const name of ['.env', '.env.local', '.netrc', 'id_ed25519', 'api_token.txt', 'client-secret.json', 'aws-credentials', 'key.pem', 'my.key', 'keys.txt', 'passwords.kdbx', 'github_api-key']) {
      assert.ok(looksLikeSecret(`/home/me/${name}`), name)
    }
    for (const name of ['.zshrc', 'init.lua', 'id_ed25519.pub', 'keyboard.conf', 'monkey.txt', 'settings.json', '.envrc.example.md']) {
      assert.ok(!looksLikeSecret(`/home/me/${name}`), name)
    }
  })

  it('recognises content that holds a credential, and not ordinary settings', function () {
    for (const text of ['-----BEGIN OPENSSH PRIVATE KEY-----\nabc', 'aws_access_key_id = AKIAABCDEFGHIJKLMNOP', `export GITHUB_TOKEN=ghp_${'a'.repeat(36)}`, 'password = hunter2hunter2', 'api_key: "0123456789abcdef"']) {
      assert.ok(looksLikeSecretContent(text), text)
    }
    for (const text of ['set number\n', 'password_prompt = true', 'token_ttl = 30', '# secret: see 1password']) {
      assert.ok(!looksLikeSecretContent(text), text)
    }
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
