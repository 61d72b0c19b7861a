// `fleet secrets` on real machines (real git, chezmoi and age, each machine in its own HOME): values set on one
// machine arrive on the others, and the plain text is nowhere but in each machine's secrets file — not in the forge
// or its history, not in fleet's state or logs, not in --json output, not in the argument list of any process fleet
// starts (recorded by wrappers on PATH and by watching /proc while fleet runs).
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {execa} from 'execa'

import type SecretsList from '../../src/commands/secrets/list.ts'
import {FLEET_BIN, NODE, type ResultOf} from '../support/cli.ts'
import {TestFleet} from '../support/fleet.ts'
import {Machine, NODE_BIN_DIR} from '../support/machine.ts'
import {Terminal} from '../support/terminal.ts'

const SECRETS = '.config/fleet/secrets.env'
/** Every value carries this mark, so that a copy of any of them is found wherever it lands. */
const MARK = `s3cr${randomBytes(5).toString('hex')}`
const VALUES: Record<string, string> = {
  SPACES: `${MARK} with  spaces and a trailing one `,
  QUOTES: `${MARK} "double" and 'single' and \`back\``,
  SUBSTITUTION: `${MARK}$(touch pwned)\`touch pwned\`\${HOME}`,
  SHELL_CHARS: `${MARK}&<>|;*?`,
  EQUALS: `${MARK}=a=b==`,
  NEWLINES: `${MARK}\nsecond line\n  third "line"`,
}

/** Files under `dir` (not following links) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...filesContaining(path, needle))
    else if (entry.isFile() && readFileSync(path).includes(needle)) found.push(path)
  }
  return found
}

/** Files and directories under `dir` with this name. */
function namedAnywhere(dir: string, name: string): string[] {
  return readdirSync(dir, {withFileTypes: true, recursive: true})
    .filter((entry) => entry.name === name)
    .map((entry) => join(entry.parentPath, entry.name))
}

/** Every object in a git repository, decompressed, and every commit's patch. */
async function repositoryText(gitDir: string): Promise<string> {
  const objects = await execa('git', ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch'], {encoding: 'buffer', stripFinalNewline: false})
  const patches = await execa('git', ['--git-dir', gitDir, 'log', '-p', '--all', '--reflog'], {reject: false})
  return Buffer.from(objects.stdout).toString('latin1') + String(patches.stdout)
}

/** Resolves once the process `pid` is gone. */
async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await sleep(25)
  }
}

describe('fleet secrets: set, get, list, unset, import and edit across machines', function () {
  let fleet: TestFleet
  let alpha: Machine
  let beta: Machine
  let gamma: Machine
  /** Wrappers for git, chezmoi and age that record their argv, then run the real one. */
  let wrappers: string
  let argvLog: string
  let editors: string
  let editLog: string
  const jsonOutputs: string[] = []
  const cmdlines = new Set<string>()
  let watching: NodeJS.Timeout | undefined

  /** The environment fleet runs in for these tests: the wrappers first on PATH, temporary files inside the fleet's root. */
  function env(machine: Machine, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const runtime = join(fleet.root, `runtime-${machine.name}`)
    const tmp = join(fleet.root, `tmp-${machine.name}`)
    mkdirSync(runtime, {recursive: true, mode: 0o700})
    mkdirSync(tmp, {recursive: true})
    return {PATH: `${wrappers}:${NODE_BIN_DIR}:${process.env.PATH}`, FLEET_TEST_ARGV_LOG: argvLog, XDG_RUNTIME_DIR: runtime, TMPDIR: tmp, ...extra}
  }

  async function secrets<T = unknown>(
    machine: Machine,
    args: string[],
    options: {input?: string; exit?: number | 'any'; json?: boolean; extra?: NodeJS.ProcessEnv} = {},
  ) {
    const run = await machine.secrets<T>(args, {input: options.input, exit: options.exit, json: options.json, env: env(machine, options.extra)})
    if (options.json !== false) jsonOutputs.push(run.stdout)
    return run
  }

  async function get(machine: Machine, key: string): Promise<string> {
    // fleet prints the value and one newline; the runner takes that newline off, as a shell's $(…) does.
    return (await secrets(machine, ['get', key], {json: false})).stdout
  }

  /**
   * Watch every process's command line while fleet runs: any that holds a value is kept. A scan every 5 ms reads
   * /proc/<pid>/cmdline into one buffer and looks at its bytes; only the command lines kept become strings.
   *
   * The processes there before the watch began are not read: every process fleet starts here comes after, and the
   * kernel hands out pids in increasing order, so a pid of those can only come back once the pids have wrapped
   * around (pid_max). A new process with a lower pid than a new one seen before says they have: from then on
   * every process is read.
   */
  function watchProcesses(): void {
    const wanted = ['fleet', 'chezmoi', 'git', MARK].map((word) => Buffer.from(word, 'latin1'))
    let buffer = Buffer.alloc(64 * 1024)
    const cmdlineOf = (pid: string): Buffer => {
      const fd = openSync(`/proc/${pid}/cmdline`, 'r')
      try {
        let length = 0
        for (let read; (read = readSync(fd, buffer, length, buffer.length - length, null)) > 0;) {
          length += read
          if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.alloc(buffer.length)])
        }
        return buffer.subarray(0, length)
      } finally {
        closeSync(fd)
      }
    }
    const isPid = (name: string) => /^\d+$/.test(name)
    /** The processes there before the watch began; none once the pids have wrapped around. */
    let before = new Set(readdirSync('/proc').filter(isPid))
    const seen = new Set<string>()
    let highestSeen = 0
    const scan = () => {
      for (const pid of readdirSync('/proc')) {
        if (!isPid(pid) || before.has(pid)) continue
        if (!seen.has(pid)) {
          if (Number(pid) < highestSeen) before = new Set()
          seen.add(pid)
          highestSeen = Math.max(highestSeen, Number(pid))
        }
        try {
          const cmdline = cmdlineOf(pid)
          if (wanted.some((word) => cmdline.includes(word))) cmdlines.add(cmdline.toString('latin1'))
        } catch {
          // the process ended
        }
      }
    }
    watching = setInterval(scan, 5)
  }

  function editorScript(dir: string): string {
    mkdirSync(dir, {recursive: true})
    const script = join(dir, 'edit.sh')
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        '# A scripted editor: the file is the last argument; what it does is $EDIT_ACTION.',
        'for file; do :; done',
        'dir=$(dirname "$file")',
        'printf "%s %s %s\\n" "$dir" "$(stat -c %a "$dir")" "$(stat -c %a "$file")" >> "$EDIT_LOG"',
        'case "$EDIT_ACTION" in',
        '  append) printf "%s\\n" "FROM_EDITOR=\'edited value\'" >> "$file" ;;',
        '  change) sed -i "s/^PLAIN=.*/PLAIN=changed-in-editor/" "$file" ;;',
        '  fail) printf "LOST=1\\n" >> "$file"; exit 3 ;;',
        '  killed) printf "LOST=1\\n" >> "$file"; kill -KILL $$ ;;',
        '  malformed) printf "LOST=1\\nthis is not a line\\n" >> "$file" ;;',
        '  hang) printf "LOST=1\\n" >> "$file"; echo $$ > "$EDIT_LOG.pid"; exec sleep 60 ;;',
        '  nothing) : ;;',
        '  mend) sed -i "/^BROKEN=/d" "$file" ;;',
        // While the editor is open, a sync writes another machine's change to the real file (PLAIN, and a new key).
        '  race) sed -i "s/^PLAIN=.*/PLAIN=from-elsewhere/" "$RACE_TARGET"; printf "RACED=1\\n" >> "$RACE_TARGET"; sed -i "s/^PLAIN=.*/PLAIN=from-the-editor/" "$file" ;;',
        'esac',
        '',
      ].join('\n'),
    )
    chmodSync(script, 0o755)
    return script
  }

  /** The edit directories the scripted editor was given, with their modes and the file's. */
  function editedDirs(): Array<{dir: string; dirMode: string; fileMode: string}> {
    if (!existsSync(editLog)) return []
    return readFileSync(editLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [dir, dirMode, fileMode] = line.split(' ')
        return {dir, dirMode, fileMode}
      })
  }

  async function forgeRefs(): Promise<string> {
    return fleet.forge.git(['for-each-ref'])
  }

  before(async function () {
    fleet = await TestFleet.start('secrets-command', {machines: ['alpha', 'beta', 'gamma'], joined: 2})
    ;[alpha, beta, gamma] = fleet.machines
    wrappers = join(fleet.root, 'wrappers')
    argvLog = join(fleet.root, 'argv.log')
    mkdirSync(wrappers)
    for (const tool of ['git', 'chezmoi', 'age']) {
      const real = String((await execa('sh', ['-c', `command -v ${tool}`])).stdout).trim()
      writeFileSync(
        join(wrappers, tool),
        `#!/bin/sh\nprintf '%s ' ${tool} "$@" >> "$FLEET_TEST_ARGV_LOG"\nprintf '\\n' >> "$FLEET_TEST_ARGV_LOG"\nexec ${real} "$@"\n`,
      )
      chmodSync(join(wrappers, tool), 0o755)
    }
    editors = join(fleet.root, 'my editors')
    editLog = join(fleet.root, 'edit.log')
    editorScript(editors)
    watchProcesses()
  })

  after(async function () {
    clearInterval(watching)
    await fleet?.remove()
  })

  it('set on one machine, get on another: every awkward value arrives exactly; each set is one commit and one sync', async function () {
    const before = Number(await fleet.forge.git(['rev-list', '--count', '--all']))
    for (const [key, value] of Object.entries(VALUES)) {
      const run = await secrets<{change: string; sync: {outcome: string}}>(alpha, ['set', key], {input: `${value}\n`})
      assert.equal(run.result.change, 'added')
      assert.equal(run.result.sync.outcome, 'ok')
    }
    assert.equal(Number(await fleet.forge.git(['rev-list', '--count', '--all'])), before + Object.keys(VALUES).length)
    assert.equal(alpha.mode(SECRETS), 0o600)
    await beta.sync()
    for (const [key, value] of Object.entries(VALUES)) {
      assert.equal(await get(beta, key), value, key)
      assert.equal(await get(alpha, key), value, key)
    }
    assert.equal(beta.mode(SECRETS), 0o600)
    // Nothing ran the value as a command.
    assert.deepEqual(namedAnywhere(fleet.root, 'pwned'), [])
  })

  it('list shows names and when each changed, never a value; a key changed here and not synced says so', async function () {
    const listed = (await secrets<ResultOf<typeof SecretsList>>(beta, ['list'])).result.secrets
    assert.deepEqual(listed.map((s) => s.key).sort(), Object.keys(VALUES).sort())
    for (const secret of listed) {
      assert.equal(secret.local, false)
      assert.ok(secret.changedAt && !Number.isNaN(Date.parse(secret.changedAt)), JSON.stringify(secret))
      assert.match(secret.changedBy ?? '', /alpha/)
    }
    // A hand edit of the file, not synced yet.
    beta.edit(SECRETS, (text) => `${text}BY_HAND=written-by-hand\n`)
    const text = await secrets(beta, ['list'], {json: false})
    assert.match(text.stdout, /^BY_HAND\s+changed here, not synced yet$/m)
    assert.match(text.stdout, /^SPACES\s+changed \S+ by fleet on alpha$/m)
    assert.ok(!text.stdout.includes(MARK))
  })

  it('a hand edit not captured yet is kept by a set: the sync captures both', async function () {
    await secrets(beta, ['set', 'FROM_BETA'], {input: 'beta value'})
    await alpha.sync()
    assert.equal(await get(alpha, 'BY_HAND'), 'written-by-hand')
    assert.equal(await get(alpha, 'FROM_BETA'), 'beta value')
  })

  it('get: a missing key exits 1 naming the known keys; unset removes a key from every machine', async function () {
    const missing = await secrets(alpha, ['get', 'NO_SUCH_KEY'], {json: false, exit: 1})
    assert.match(missing.stderr, /There is no secret NO_SUCH_KEY \(the secrets are: .*SPACES.*\)/)
    assert.ok(!missing.stderr.includes(MARK))
    await secrets(alpha, ['unset', 'BY_HAND'])
    await beta.sync()
    await secrets(beta, ['get', 'BY_HAND'], {json: false, exit: 1})
    assert.ok(!beta.read(SECRETS).includes('BY_HAND'))
    const again = await secrets(alpha, ['unset', 'BY_HAND'], {exit: 1})
    assert.equal(again.error?.code, 'SECRET_NOT_FOUND')
  })

  it('import merges a dotenv file in, saying which keys were added and changed; a malformed file is refused by line, nothing written', async function () {
    const file = join(alpha.home, 'project.env')
    writeFileSync(file, `# a project's secrets\nFROM_BETA=changed by import\nIMPORTED="${MARK} imported\\nvalue"\n`)
    const run = await secrets<{added: string[]; changed: string[]}>(alpha, ['import', file])
    assert.deepEqual(run.result.added, ['IMPORTED'])
    assert.deepEqual(run.result.changed, ['FROM_BETA'])
    await beta.sync()
    assert.equal(await get(beta, 'IMPORTED'), `${MARK} imported\nvalue`)
    assert.equal(await get(beta, 'FROM_BETA'), 'changed by import')

    const refs = await forgeRefs()
    const target = alpha.read(SECRETS)
    writeFileSync(file, 'GOOD=1\nBAD LINE here\n')
    const refused = await secrets(alpha, ['import', file], {json: false, exit: 2})
    assert.match(refused.stderr, /project\.env, line 2: not a KEY=value line/)
    assert.match(refused.stderr, /Fix: /)
    assert.equal(alpha.read(SECRETS), target)
    assert.equal(await forgeRefs(), refs)
  })

  it('a malformed hand edit of the secrets file is refused before anything is written, never sent by a sync, and mended with edit', async function () {
    const refs = await forgeRefs()
    alpha.edit(SECRETS, (text) => `${text}BROKEN="never closed\n`)
    const broken = alpha.read(SECRETS)
    const line = broken.split('\n').findIndex((l) => l.startsWith('BROKEN=')) + 1
    const refused = await secrets(alpha, ['set', 'ANOTHER'], {input: 'x', json: false, exit: 2})
    assert.match(refused.stderr, new RegExp(`~/\\.config/fleet/secrets\\.env, line ${line}: the value's opening " is never closed`))
    assert.match(refused.stderr, /Fix: Fix that line in ~\/\.config\/fleet\/secrets\.env/)
    assert.equal(alpha.read(SECRETS), broken)
    assert.equal(await forgeRefs(), refs)
    // A sync keeps it here, says why, and sends nothing: the other machines' secrets keep reading.
    const synced = await alpha.sync()
    const skipped = synced.result.skipped.find((s) => s.path === SECRETS)
    assert.match(skipped?.reason ?? '', new RegExp(`line ${line}: .*fleet secrets edit`))
    assert.equal(await forgeRefs(), refs)
    // `fleet secrets edit` opens the malformed file, so the editor can mend it.
    await secrets(alpha, ['edit'], {extra: {EDITOR: `'${join(editors, 'edit.sh')}'`, EDIT_LOG: editLog, EDIT_ACTION: 'mend'}})
    assert.ok(!alpha.read(SECRETS).includes('BROKEN='))
    assert.ok(!(await alpha.sync()).result.skipped.some((s) => s.path === SECRETS), 'mended, it is no longer held here')
  })

  it('keys and values are checked: a bad name is refused with the rule, an empty value is refused', async function () {
    const name = await secrets(alpha, ['set', 'MY-KEY'], {input: 'x', exit: 2})
    assert.match(name.error?.message ?? '', /letters, digits and _, not starting with a digit/)
    const empty = await secrets(alpha, ['set', 'EMPTY'], {input: '', exit: 2})
    assert.equal(empty.error?.code, 'SECRET_VALUE_EMPTY')
  })

  it('edit: $EDITOR (a quoted path with arguments) edits a copy in a fresh 0700 directory, removed afterwards; the change reaches the other machines', async function () {
    await secrets(alpha, ['set', 'PLAIN'], {input: 'before-editor'})
    const editor = {EDITOR: `'${join(editors, 'edit.sh')}' --wait`, EDIT_LOG: editLog}
    const run = await secrets<{added: string[]; updated: string[]}>(alpha, ['edit'], {extra: {...editor, EDIT_ACTION: 'append'}})
    assert.deepEqual(run.result.added, ['FROM_EDITOR'])
    const changed = await secrets<{updated: string[]}>(alpha, ['edit'], {extra: {...editor, EDIT_ACTION: 'change'}})
    assert.deepEqual(changed.result.updated, ['PLAIN'])
    for (const {dir, dirMode, fileMode} of editedDirs()) {
      assert.equal(dirMode, '700')
      assert.equal(fileMode, '600')
      assert.ok(dir.startsWith(join(fleet.root, 'runtime-alpha')), `${dir} is in $XDG_RUNTIME_DIR`)
      assert.ok(!existsSync(dir), `${dir} was removed`)
    }
    await beta.sync()
    assert.equal(await get(beta, 'FROM_EDITOR'), 'edited value')
    assert.equal(await get(beta, 'PLAIN'), 'changed-in-editor')
    // No change: no commit.
    const refs = await forgeRefs()
    const none = await secrets(alpha, ['edit'], {extra: {...editor, EDIT_ACTION: 'nothing'}, json: false})
    assert.match(none.stdout, /No change/)
    assert.equal(await forgeRefs(), refs)
  })

  it('edit: an editor that fails, one killed by a signal, a malformed result — the directory is gone, nothing changes', async function () {
    const editor = {EDITOR: `'${join(editors, 'edit.sh')}'`, EDIT_LOG: editLog}
    const refs = await forgeRefs()
    const target = alpha.read(SECRETS)
    const cases: Array<[string, number, RegExp]> = [
      ['fail', 1, /exited with status 3: nothing was changed/],
      ['killed', 1, /was stopped by SIGKILL: nothing was changed/],
      ['malformed', 2, /secrets\.env, line \d+: not a KEY=value line/],
    ]
    for (const [action, exit, message] of cases) {
      const seen = editedDirs().length
      const run = await secrets(alpha, ['edit'], {extra: {...editor, EDIT_ACTION: action}, json: false, exit})
      assert.match(run.stderr, message, action)
      const [edited] = editedDirs().slice(seen)
      assert.ok(edited, `the editor ran (${action})`)
      assert.ok(!existsSync(edited.dir), `${action}: ${edited.dir} was removed`)
      assert.equal(alpha.read(SECRETS), target, action)
    }
    assert.equal(await forgeRefs(), refs)
    assert.deepEqual(readdirSync(join(fleet.root, 'runtime-alpha')), [])
  })

  it('edit: a change that arrives while the editor is open is merged; a key changed in both takes the edit, and is named', async function () {
    await secrets(alpha, ['set', 'PLAIN'], {input: 'before-the-race'})
    const editor = {EDITOR: `'${join(editors, 'edit.sh')}'`, EDIT_LOG: editLog, EDIT_ACTION: 'race', RACE_TARGET: alpha.path(SECRETS)}
    const run = await secrets<{updated: string[]; replaced: string[]}>(alpha, ['edit'], {extra: editor})
    assert.deepEqual(run.result.updated, ['PLAIN'])
    assert.deepEqual(run.result.replaced, ['PLAIN'])
    assert.equal(await get(alpha, 'PLAIN'), 'from-the-editor')
    assert.equal(await get(alpha, 'RACED'), '1', 'the other change is kept beside the edit')
    await beta.sync()
    assert.equal(await get(beta, 'PLAIN'), 'from-the-editor')
    await secrets(alpha, ['unset', 'RACED'])
  })

  it('edit: fleet stopped by SIGTERM while the editor is open removes the copy; one killed with SIGKILL leaves it to the next edit', async function () {
    const target = alpha.read(SECRETS)
    const pidFile = `${editLog}.pid`
    const start = () =>
      execa(NODE, [FLEET_BIN, 'secrets', 'edit'], {
        env: {...alpha.env, ...env(alpha), EDITOR: `'${join(editors, 'edit.sh')}'`, EDIT_LOG: editLog, EDIT_ACTION: 'hang'},
        extendEnv: false,
        cwd: alpha.home,
        stdin: 'ignore',
        reject: false,
      })
    const editorStarted = async () => {
      for (let i = 0; i < 400 && !existsSync(pidFile); i++) await sleep(50)
      return Number(readFileSync(pidFile, 'utf8'))
    }

    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      rmSync(pidFile, {force: true})
      const seen = editedDirs().length
      const child = start()
      const editorPid = await editorStarted()
      const [edited] = editedDirs().slice(seen)
      assert.ok(existsSync(edited.dir))
      child.kill(signal)
      // A fleet killed with SIGKILL leaves its editor running, holding fleet's output open: stop it as a person would.
      if (signal === 'SIGKILL') await waitForExit(child.pid!).then(() => process.kill(editorPid, 'SIGKILL'))
      const result = await child
      assert.notEqual(result.exitCode, 0)
      if (signal === 'SIGTERM') {
        assert.ok(!existsSync(edited.dir), 'removed when fleet was stopped')
        assert.match(String(result.stderr), /interrupted \(SIGTERM\)/)
        await sleep(200)
        assert.throws(() => process.kill(editorPid, 0), 'the editor was stopped too')
      } else {
        assert.ok(existsSync(edited.dir), 'a fleet killed with SIGKILL cannot clean up')
        // A directory of a fleet that is still running is left alone.
        const live = join(fleet.root, 'runtime-alpha', `fleet-secrets-${process.pid}-live`)
        mkdirSync(live, {mode: 0o700})
        await secrets(alpha, ['edit'], {extra: {EDITOR: `'${join(editors, 'edit.sh')}'`, EDIT_LOG: editLog, EDIT_ACTION: 'nothing'}})
        assert.ok(!existsSync(edited.dir), 'the next edit removed what the killed one left')
        assert.ok(existsSync(live))
        rmSync(live, {recursive: true})
      }
      assert.equal(alpha.read(SECRETS), target)
    }
  })

  it('the same time on two machines: different keys merge; the same key is a conflict that status names, both values kept, exit 4', async function () {
    await beta.sync()
    // Different keys, neither machine synced in between.
    await secrets(alpha, ['set', 'ONLY_ALPHA'], {input: 'a'})
    await secrets(beta, ['set', 'ONLY_BETA'], {input: 'b'})
    await alpha.sync()
    for (const machine of [alpha, beta]) {
      assert.equal(await get(machine, 'ONLY_ALPHA'), 'a')
      assert.equal(await get(machine, 'ONLY_BETA'), 'b')
    }
    // One key on both.
    await secrets(alpha, ['set', 'SHARED'], {input: `${MARK} alpha's`})
    const conflict = await secrets<{sync: {outcome: string}}>(beta, ['set', 'SHARED'], {input: `${MARK} beta's`, exit: 4})
    assert.equal(conflict.result.sync.outcome, 'conflict')
    const status = (await beta.status({exit: 'any'})).result
    const [recorded] = status.conflicts
    assert.equal(recorded.path, SECRETS)
    assert.deepEqual(recorded.keys, ['SHARED'])
    const text = await beta.status({json: false, exit: 'any'})
    assert.match(text.stdout, /\.config\/fleet\/secrets\.env\s+\(keys changed on both: SHARED;/)
    assert.ok(!text.stdout.includes(MARK) && !JSON.stringify(status).includes(MARK))
    // This machine's value in its file, the fleet's in the forge (alpha has it, and a third machine would get it).
    assert.equal(await get(beta, 'SHARED'), `${MARK} beta's`)
    await alpha.sync()
    assert.equal(await get(alpha, 'SHARED'), `${MARK} alpha's`)
    assert.match(recorded.parkedBranch, /^fleet\/parked\//)
  })

  it('a pending machine cannot read the secrets: the error says to approve it', async function () {
    await gamma.enroll(fleet.url)
    const run = await secrets(gamma, ['list'], {exit: 1})
    assert.equal(run.error?.code, 'NOT_ACTIVE')
    assert.match(run.error?.fix ?? '', /fleet machines approve gamma/)
    const set = await secrets(gamma, ['set', 'X'], {input: 'x', exit: 1})
    assert.equal(set.error?.code, 'NOT_ACTIVE')
  })

  it('in a terminal: set asks without echo; get refuses the terminal (exit 2) unless --reveal', async function () {
    const {CI: _ci, ...machineEnv} = alpha.env
    const terminalEnv = {...machineEnv, ...env(alpha)}
    let terminal = new Terminal({columns: 160, rows: 30})
    try {
      await terminal.start([NODE, FLEET_BIN, 'secrets', 'set', 'TYPED'], terminalEnv, alpha.home)
      await terminal.waitFor(/Value for TYPED \(not shown\)/)
      await terminal.type(`${MARK}-typed`)
      await terminal.send('Enter')
      assert.equal(await terminal.waitForExit(), 0)
      assert.ok(!(await terminal.screen({history: true})).includes(MARK))
    } finally {
      await terminal.stop()
    }
    assert.equal(await get(alpha, 'TYPED'), `${MARK}-typed`)
    terminal = new Terminal({columns: 160, rows: 30})
    try {
      await terminal.start([NODE, FLEET_BIN, 'secrets', 'get', 'TYPED'], terminalEnv, alpha.home)
      assert.equal(await terminal.waitForExit(), 2)
      const screen = await terminal.screen({history: true})
      assert.match(screen, /only to a pipe or a file/)
      assert.ok(!screen.includes(MARK))
    } finally {
      await terminal.stop()
    }
    terminal = new Terminal({columns: 160, rows: 30})
    try {
      await terminal.start([NODE, FLEET_BIN, 'secrets', 'get', 'TYPED', '--reveal'], terminalEnv, alpha.home)
      assert.equal(await terminal.waitForExit(), 0)
      assert.ok((await terminal.screen({history: true})).includes(`${MARK}-typed`))
    } finally {
      await terminal.stop()
    }
  })

  it('the values are nowhere but in each machine’s secrets file: not in the forge, its history, any repo, state, logs, --json, or argv', async function () {
    clearInterval(watching)
    // The wrappers really saw fleet's children.
    const argv = readFileSync(argvLog, 'utf8')
    assert.match(argv, /^git .*commit/m)
    assert.match(argv, /^chezmoi .*re-add/m)
    assert.ok(!argv.includes(MARK), 'no value in any argv the wrappers recorded')
    assert.ok(
      [...cmdlines].some((c) => c.includes(FLEET_BIN)),
      'the /proc watch saw fleet run',
    )
    // tmux send-keys is the test typing into a terminal, not a process fleet started.
    assert.deepEqual(
      [...cmdlines].filter((c) => c.includes(MARK) && !c.startsWith('tmux\0')),
      [],
    )
    for (const output of jsonOutputs) assert.ok(!output.includes(MARK), output)
    // Every git object and patch of the forge and of each machine's source repo.
    for (const gitDir of [fleet.forge.path, ...[alpha, beta, gamma].map((m) => join(m.sourceDir, '.git'))]) {
      assert.ok(!(await repositoryText(gitDir)).includes(MARK), gitDir)
    }
    // Every file under the fleet's root (the machines' homes, state, logs and temporary directories, the forge):
    // only the secrets files themselves.
    const holders = filesContaining(fleet.root, MARK).map((file) => relative(fleet.root, file))
    assert.deepEqual(holders.sort(), [`alpha/${SECRETS}`, `beta/${SECRETS}`])
    for (const machine of [alpha, beta]) assert.equal(lstatSync(machine.path(SECRETS)).mode & 0o777, 0o600)
  })
})
