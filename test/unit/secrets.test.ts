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
      const line = (entry.content.includes('-----BEGIN') ? lines.findIndex((l) => l.startsWith('-----BEGIN')) : lines.findIndex((l) => l.includes(entry.value!.slice(0, 12)))) + 1
      assert.ok(findings.some((f) => f.line === line), `${JSON.stringify(findings)} names line ${line}`)
      assert.ok(!JSON.stringify(findings).includes(entry.value!.slice(0, 8)), 'the value is not in the finding')
    })
  }

  for (const entry of LOOK_ALIKES) {
    it(`finds nothing in ${entry.name} (not a secret)`, async function () {
      assert.deepEqual(await findSecrets(entry.content, `/home/me/${entry.name}`), [])
    })
  }

  it('credentials in assignments, and not settings whose names merely mention them', async function () {
    for (const text of [`export GITHUB_TOKEN=ghp_${'a1'.repeat(18)}`, 'password = hunter2hunter2', 'api_key: "0123456789abcdef"', 'export OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl']) {
      assert.notDeepEqual(await findSecrets(text, '/x'), [], text)
    }
    for (const text of ['set number\n', 'password_prompt = true', 'token_ttl = 30', '# secret: see 1password', 'auth_method = oauth', 'export TOKEN=$(pass show api)']) {
      assert.deepEqual(await findSecrets(text, '/x'), [], text)
    }
  })

  it('binary and empty contents have no findings', async function () {
    assert.deepEqual(await findSecrets('', '/x'), [])
    assert.deepEqual(await findSecrets('password = hunter2hunter2\0\x01', '/x'), [])
  })
})

describe('chezmoi\'s own findings', function () {
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
