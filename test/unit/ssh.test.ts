// How fleet's git reaches an SSH forge: which addresses are SSH, which ssh commands fleet may add connection sharing
// to (and which it leaves alone), where the control sockets live, and git's advertisement read off the wire.
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {controlDirectory, parseSshForge, personSsh, uploadPackCommand} from '../../src/lib/git/ssh.ts'
import {parseAdvertisement} from '../../src/lib/git/ssh-mux.ts'
import {makeTempDir, removeTempDir} from '../support/tmp.ts'

describe('ssh: the forge addresses git reaches over SSH', function () {
  it('reads ssh:// and scp-like addresses as git does, and leaves every other to git', function () {
    assert.deepEqual(parseSshForge('ssh://git@forge.example:2222/srv/fleet.git'), {destination: 'git@forge.example', port: '2222', path: '/srv/fleet.git'})
    assert.deepEqual(parseSshForge('ssh://forge.example/~/fleet.git'), {destination: 'forge.example', port: undefined, path: '~/fleet.git'})
    assert.deepEqual(parseSshForge('git@github.com:someone/dotfiles.git'), {destination: 'git@github.com', path: 'someone/dotfiles.git'})
    assert.deepEqual(parseSshForge('forge-alias:/srv/fleet.git'), {destination: 'forge-alias', path: '/srv/fleet.git'})
    for (const other of ['/srv/fleet.git', 'file:///srv/fleet.git', 'https://github.com/a/b.git', './a:b', 'ssh://[::1]/x.git', 'ssh://h/a%20b.git'])
      assert.equal(parseSshForge(other), undefined, other)
  })

  it("asks upload-pack for the path quoted as git quotes it (a quote or a ! in it stays the path's)", function () {
    assert.equal(uploadPackCommand('/srv/fleet.git'), "git-upload-pack '/srv/fleet.git'")
    assert.equal(uploadPackCommand("/srv/it's!.git"), "git-upload-pack '/srv/it'\\''s'\\!'.git'")
  })
})

describe("ssh: the person's ssh command gets connection sharing added, or is left alone", function () {
  let dir: string
  before(() => {
    dir = makeTempDir('ssh-command')
  })
  after(() => removeTempDir(dir))

  const env = (extra: NodeJS.ProcessEnv) => ({HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...extra})

  it('takes plain ssh, and a GIT_SSH_COMMAND of plain words with its own options and keys', async function () {
    assert.deepEqual(await personSsh(dir, env({})), {command: 'ssh', words: ['ssh']})
    const own = `/usr/bin/ssh -F '/home/a b/ssh config' -i ~/.ssh/forge -o IdentitiesOnly=yes -J jump.example -p 2222`
    assert.deepEqual((await personSsh(dir, env({GIT_SSH_COMMAND: own})))?.words, [
      '/usr/bin/ssh',
      '-F',
      '/home/a b/ssh config',
      '-i',
      `${dir}/.ssh/forge`,
      '-o',
      'IdentitiesOnly=yes',
      '-J',
      'jump.example',
      '-p',
      '2222',
    ])
  })

  it('leaves alone a command it cannot read for certain, another program, GIT_SSH, another variant, or sharing the person set up', async function () {
    for (const command of [
      'ssh -i "$KEY"',
      'ssh -i key 2>/dev/null',
      'ssh -i key; echo',
      'KEY=x ssh',
      'plink -batch',
      '/opt/my-ssh-wrapper',
      'ssh -o ControlMaster=auto -o ControlPath=~/.ssh/cm-%C',
      'ssh -oControlPersist=yes',
      'ssh -S /tmp/socket',
      'ssh -qM',
      'ssh -- ',
    ])
      assert.equal(await personSsh(dir, env({GIT_SSH_COMMAND: command})), undefined, command)
    assert.equal(await personSsh(dir, env({GIT_SSH: '/opt/my-ssh-wrapper'})), undefined, 'GIT_SSH is a program git runs as it is')
    assert.equal(await personSsh(dir, env({GIT_SSH_VARIANT: 'plink'})), undefined)
    assert.ok(await personSsh(dir, env({GIT_SSH_COMMAND: 'ssh -l git -o StrictHostKeyChecking=yes'})), '-l takes an argument; S in an option value is not -S')
    assert.deepEqual(
      (await personSsh(dir, env({GIT_SSH_COMMAND: "ssh -F '~/quoted' -i ~user/key -o User=a~b"})))?.words.slice(1),
      ['-F', '~/quoted', '-i', '~user/key', '-o', 'User=a~b'],
      'only what the shell expands',
    )
  })

  it("takes core.sshCommand from git's configuration when GIT_SSH_COMMAND is not set, and GIT_SSH_COMMAND over it", async function () {
    const config = join(dir, 'gitconfig')
    writeFileSync(config, '[core]\n\tsshCommand = ssh -i ~/.ssh/forge_key\n')
    assert.equal((await personSsh(dir, env({GIT_CONFIG_GLOBAL: config})))?.command, 'ssh -i ~/.ssh/forge_key')
    assert.equal((await personSsh(dir, env({GIT_CONFIG_GLOBAL: config, GIT_SSH_COMMAND: 'ssh -4'})))?.command, 'ssh -4')
    writeFileSync(config, '[core]\n\tsshCommand = ssh -i ~/.ssh/forge_key\n[ssh]\n\tvariant = putty\n')
    mkdirSync(join(dir, 'elsewhere')) // a configuration is read once in a while per place: this is a new place
    assert.equal(await personSsh(join(dir, 'elsewhere'), env({GIT_CONFIG_GLOBAL: config})), undefined, 'ssh.variant says it is not OpenSSH')
  })
})

describe('ssh: control sockets live in a directory of fleet’s own that only this user can enter', function () {
  let dir: string
  const made: string[] = []
  before(() => {
    dir = makeTempDir('sd')
  })
  after(() => {
    removeTempDir(dir)
    for (const other of made.filter((d) => d.startsWith('/tmp/fleet-'))) rmSync(other, {recursive: true, force: true})
  })

  it("uses fleet's state directory when a socket path there fits, else a short one under /tmp named after it; 0700 either way", function () {
    const near = {HOME: join(dir, 'h'), XDG_STATE_HOME: join(dir, 's')}
    assert.equal(controlDirectory(near), join(dir, 's', 'fleet', 'ssh'), 'not made: nothing listens there yet')
    assert.ok(!existsSync(join(dir, 's')), 'only the watcher makes it')
    made.push(controlDirectory(near, true)!)
    const far = {HOME: join(dir, 'a-home-directory-with-a-long-name', 'that-goes-on-and-on-and-on-and-on')}
    made.push(controlDirectory(far, true)!)
    assert.match(made[1], new RegExp(`^/tmp/fleet-${process.getuid!()}/[0-9a-f]{12}$`))
    made.push(controlDirectory({HOME: `${far.HOME}-2`}, true)!)
    assert.notEqual(made[2], made[1], 'one directory per HOME')
    for (const path of made) assert.equal(statSync(path).mode & 0o777, 0o700, path)
    assert.ok(`${made[1]}/${'0'.repeat(40)}.${'x'.repeat(16)}`.length < 104, 'ssh can bind its socket there')
  })

  it('uses no directory that others can enter', function () {
    const open = join(dir, 'open')
    mkdirSync(join(open, 'fleet', 'ssh'), {recursive: true})
    chmodSync(join(open, 'fleet', 'ssh'), 0o777)
    assert.equal(controlDirectory({HOME: dir, XDG_STATE_HOME: open}), undefined)
    assert.equal(controlDirectory({HOME: dir, XDG_STATE_HOME: open}, true), join(open, 'fleet', 'ssh'), 'its own, made private again')
    assert.equal(statSync(join(open, 'fleet', 'ssh')).mode & 0o777, 0o700)
  })
})

describe("ssh: git's advertisement of refs, read as it arrives", function () {
  const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`
  const sha = (c: string) => c.repeat(40)

  it('reads every ref, the capabilities after the first left out, once the flush ends it; undefined before', function () {
    const whole = Buffer.from(
      pkt(`${sha('a')} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main\n`) +
        pkt(`${sha('a')} refs/heads/main\n`) +
        pkt(`${sha('b')} refs/fleet/heartbeat/alpha\n`) +
        '0000',
    )
    assert.equal(parseAdvertisement(whole.subarray(0, 60)), undefined)
    assert.equal(parseAdvertisement(whole.subarray(0, whole.length - 4)), undefined)
    assert.deepEqual(
      parseAdvertisement(whole),
      new Map([
        ['HEAD', sha('a')],
        ['refs/heads/main', sha('a')],
        ['refs/fleet/heartbeat/alpha', sha('b')],
      ]),
    )
  })

  it('an empty repository advertises no ref; an ERR line is the forge’s own words', function () {
    assert.deepEqual(parseAdvertisement(Buffer.from(pkt(`${'0'.repeat(40)} capabilities^{}\0agent=git/2\n`) + '0000')), new Map())
    assert.throws(() => parseAdvertisement(Buffer.from(pkt('ERR access denied or repository not exported') + '0000')), /access denied/)
  })
})
