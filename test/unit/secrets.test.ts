import assert from 'node:assert/strict'

import {findSecrets} from '../../src/lib/secrets/detect.ts'
import {parseChezmoiFinding} from '../../src/lib/sync/secret-check.ts'
import {LOOK_ALIKES, SECRETS} from '../support/secret-corpus.ts'

describe('what looks like a secret', function () {
  for (const entry of SECRETS) {
    it(`finds the secret in ${entry.name}, naming its kind and line, never its value`, async function () {
      const findings = await findSecrets(entry.content, `/home/me/${entry.name}`)
      assert.ok(findings.length > 0, `nothing found in ${entry.name}`)
      // A key block is named by its BEGIN line; anything else by the line that holds the value.
      const lines = entry.content.split('\n')
      const line =
        (entry.content.includes('-----BEGIN')
          ? lines.findIndex((l) => l.startsWith('-----BEGIN'))
          : lines.findIndex((l) => l.includes(entry.value!.slice(0, 12)))) + 1
      assert.ok(
        findings.some((f) => f.line === line),
        `${JSON.stringify(findings)} names line ${line}`,
      )
      assert.ok(!JSON.stringify(findings).includes(entry.value!.slice(0, 8)), 'the value is not in the finding')
    })
  }

  for (const entry of LOOK_ALIKES) {
    it(`finds nothing in ${entry.name} (not a secret)`, async function () {
      assert.deepEqual(await findSecrets(entry.content, `/home/me/${entry.name}`), [])
    })
  }

  it('credentials in assignments, and not settings whose names merely mention them', async function () {
    const secrets = [
      `export GITHUB_TOKEN=ghp_${'a1'.repeat(18)}`,
      'password = hunter2hunter2',
      'api_key: "0123456789abcdef"',
      'export OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl',
      'DB_PASS=YAVH66WxYLwx29Ck',
      'MYSQL_PWD=9WzTVDPHpFr7FGG1',
      '{"db": {"host": "x", "pass": "TBzoGrgxGxH8YFLeTD"}}',
      'password=hunterhunterx',
      'password=$9382dffx1kVZQ2',
      'password = <bluliGGxGRJl5C',
      'PGPASSWORD=%D7u6yB54HkJlpo',
      'password=Ab,tqMnMcLRkBOzZU',
      'db_password: Q#3G8xI7CGr5c3bx',
      'REDIS_URL=redis://:4XD69Perj3EIe6Z5HTZss6bJ@redis.example.com:6379',
      'Authorization: Basic bWU6VlNvcmJiRWNpUGpudXBJZA==',
      'hf_1sVkmxyHugAwiKect0ZPIuAtuwruVVHGaH',
      'https://discord.com/api/webhooks/858495739318521056/SGh31WTLR4abcdefghijklmnopqrstuv',
      '---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----',
      'PuTTY-User-Key-File-3: ssh-ed25519',
      '{"auths": {"ghcr.io": {"auth": "bWU6Z2hwX3NlY3JldHRva2Vu"}}}',
    ]
    for (const text of secrets) assert.notDeepEqual(await findSecrets(text, '/x'), [], text)
    assert.notDeepEqual(await findSecrets('db.example.com:5432:app:appuser:4QIdKyqifDP1t5ac\n', '/home/me/.pgpass'), [])
    const settings = [
      'set number\n',
      'password_prompt = true',
      'token_ttl = 30',
      '# secret: see 1password',
      'auth_method = oauth',
      'export TOKEN=$(pass show api)',
      'export PASSWORD_STORE_DIR=/home/me/.password-store',
      '"PASSWORD_STORE_DIR": "/home/me/.password-store"',
      'export SSH_AUTH_SOCK=/run/user/1000/keyring/ssh',
      '"SSH_AUTH_SOCK": "/Users/me/.1password/agent.sock"',
      '"apiKeyHelper": "/Users/me/bin/get_key_v2.sh"',
      '"author": "octocat42"',
      '"authority": "https://login.microsoftonline.com/common"',
      '"token_uri": "https://oauth2.googleapis.com/token"',
      '"authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth"',
      '"passwordManager": "1password"',
      'tokenizer: cl100k_base',
      'authfile = ~/.config/app/auth2.json',
      'secretsFile = ~/.config/fleet/secrets.env',
      'PRIVATE_KEY_PATH=/home/me/.ssh/id_ed25519',
      'token_file: /home/me/.config/gh/tok3n',
      'toggle_secret_view: Ctrl+Shift+S',
      'signing.secretKeyRingFile=/home/me/.gnupg/secring.gpg',
      '"editor.tokenColorCustomizations": {"comments": "#6A9955"}',
      'export GITHUB_TOKEN="$(gh auth token)"',
      'export NPM_TOKEN=${NPM_TOKEN:-}',
    ]
    for (const text of settings) assert.deepEqual(await findSecrets(text, '/x'), [], text)
  })

  it('a token in a binary file is still found', async function () {
    assert.notDeepEqual(await findSecrets(`\0\u0001HDR\0tok=ghp_N50DfCT8L9yNdy1dDT2koRgRDKW5pADOclfe\n`, '/x'), [])
  })

  it('empty contents have no findings', async function () {
    assert.deepEqual(await findSecrets('', '/x'), [])
  })
})

describe("chezmoi's own findings", function () {
  it('are read from its refusal: the file, the line and the kind, without the value', function () {
    const stderr = 'chezmoi: /home/me/.claude/s3cfg:2: Detected a Generic API Key, potentially exposing access to various services and sensitive operations.\n'
    assert.deepEqual(parseChezmoiFinding(stderr), {file: '/home/me/.claude/s3cfg', finding: {kind: 'Generic API Key', line: 2}})
    assert.deepEqual(parseChezmoiFinding('chezmoi: /home/me/npmrc:0: Uncovered an npm access token, potentially compromising package management.'), {
      file: '/home/me/npmrc',
      finding: {kind: 'npm access token', line: 1},
    })
    assert.equal(parseChezmoiFinding('chezmoi: some other failure'), undefined)
  })
})
