// OpenSSH's connection sharing spoken from this process: a question to the forge through an ssh ControlMaster that is
// already connected, without starting a process (no git, no sh, no ssh client: each costs more than the question).
// The master's control socket speaks OpenSSH's multiplexing protocol (PROTOCOL.mux in OpenSSH's sources); its
// "proxy mode" (OpenSSH 7.4 and later) carries plain SSH connection-protocol messages, so a session channel can run
// `git-upload-pack` on the forge and read the refs it advertises, as `git ls-remote` would.
import {createConnection, type Socket} from 'node:net'

const MUX_MSG_HELLO = 0x0000_0001
const MUX_C_TERMINATE = 0x1000_0005
const MUX_C_STOP_LISTENING = 0x1000_0009
const MUX_C_PROXY = 0x1000_000f
const MUX_S_OK = 0x8000_0001
const MUX_S_PROXY = 0x8000_000f
const MUX_VERSION = 4

const SSH_MSG_CHANNEL_OPEN = 90
const SSH_MSG_CHANNEL_OPEN_CONFIRMATION = 91
const SSH_MSG_CHANNEL_OPEN_FAILURE = 92
const SSH_MSG_CHANNEL_WINDOW_ADJUST = 93
const SSH_MSG_CHANNEL_DATA = 94
const SSH_MSG_CHANNEL_EXTENDED_DATA = 95
const SSH_MSG_CHANNEL_EOF = 96
const SSH_MSG_CHANNEL_CLOSE = 97
const SSH_MSG_CHANNEL_REQUEST = 98
const SSH_MSG_CHANNEL_FAILURE = 100

/** Our side of the session channel: its number, and how much the forge may send before we say it may send more. */
const CHANNEL_ID = 0
const WINDOW = 1 << 21
const MAX_PACKET = 1 << 15
/** What is kept of the forge's standard error, for the message. */
const STDERR_LIMIT = 4096

/** No master listens at the control socket (none was started, or it has gone): ask the forge the usual way. */
export class NoSharedConnection extends Error {
  constructor(detail: string) {
    super(`no shared ssh connection: ${detail}`)
    this.name = 'NoSharedConnection'
  }
}

/** The master took the question but gave no answer in time: it may hold a connection the network dropped. */
export class MasterNotAnswering extends Error {
  constructor(timeoutMs: number) {
    super(`the shared ssh connection did not answer within ${Math.round(timeoutMs / 1000)} s`)
    this.name = 'MasterNotAnswering'
  }
}

const u32 = (n: number) => {
  const bytes = Buffer.alloc(4)
  bytes.writeUInt32BE(n >>> 0)
  return bytes
}
const sshString = (value: string | Buffer) => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value
  return Buffer.concat([u32(bytes.length), bytes])
}
const frame = (...parts: Buffer[]) => {
  const payload = Buffer.concat(parts)
  return Buffer.concat([u32(payload.length), payload])
}

/** Length-prefixed frames (uint32 length, then the frame) read off a stream as they complete. */
class Frames {
  #pending: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const frames: Buffer[] = []
    let at = 0
    while (this.#pending.length - at >= 4) {
      const length = this.#pending.readUInt32BE(at)
      if (this.#pending.length - at - 4 < length) break
      frames.push(this.#pending.subarray(at + 4, at + 4 + length))
      at += 4 + length
    }
    this.#pending = this.#pending.subarray(at)
    return frames
  }
}

/**
 * The refs git's pkt-line advertisement (protocol v0, as `git-upload-pack` sends it unasked) names, once it is whole:
 * undefined while more is to come. Throws the forge's own words for an `ERR` line.
 */
export function parseAdvertisement(bytes: Buffer): Map<string, string> | undefined {
  const refs = new Map<string, string>()
  let at = 0
  while (at + 4 <= bytes.length) {
    const length = Number.parseInt(bytes.subarray(at, at + 4).toString('latin1'), 16)
    if (Number.isNaN(length)) throw new Error('the forge did not answer in git pkt-lines')
    if (length === 0) return refs // the flush that ends the advertisement
    if (length < 4) throw new Error('the forge answered in a git protocol other than the advertisement')
    if (at + length > bytes.length) return undefined
    const line = bytes
      .subarray(at + 4, at + length)
      .toString('utf8')
      .replace(/\n$/, '')
    at += length
    if (line.startsWith('ERR ')) throw new Error(line.slice(4))
    if (line.startsWith('version ')) continue
    const [sha, ref] = line.split('\0')[0].split(' ')
    if (sha && ref && ref !== 'capabilities^{}') refs.set(ref, sha)
  }
  return undefined
}

/**
 * A conversation with a master: one connection to its control socket, hello exchanged first. `first` goes out with
 * our hello: the master reads one message at a time, in order, so requests need not wait for its hello.
 */
function openControl(socketPath: string, timeoutMs: number, first: Buffer[], onFrame: (frame: Buffer, socket: Socket) => void) {
  const {promise, resolve, reject} = Promise.withResolvers<void>()
  const socket = createConnection({path: socketPath})
  const frames = new Frames()
  let helloSeen = false
  const timer = setTimeout(() => fail(new MasterNotAnswering(timeoutMs)), timeoutMs)
  const fail = (error: Error) => {
    clearTimeout(timer)
    socket.destroy()
    reject(error)
  }
  const done = () => {
    clearTimeout(timer)
    socket.end()
    resolve()
  }
  socket.on('error', (error: NodeJS.ErrnoException) => {
    // No socket, or nobody listening on it: there is no master to share.
    fail(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? new NoSharedConnection(error.code) : error)
  })
  socket.on('close', () => fail(new Error('the shared ssh connection closed before the answer was complete')))
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const message of frames.push(chunk)) {
        if (!helloSeen) {
          if (message.length < 8 || message.readUInt32BE(0) !== MUX_MSG_HELLO || message.readUInt32BE(4) !== MUX_VERSION)
            throw new NoSharedConnection('the master speaks another multiplexing protocol')
          helloSeen = true
          continue
        }
        onFrame(message, socket)
      }
    } catch (error) {
      fail(error as Error)
    }
  })
  socket.write(Buffer.concat([frame(u32(MUX_MSG_HELLO), u32(MUX_VERSION)), ...first]))
  return {socket, finished: promise, done, fail}
}

/**
 * The refs (name → commit) the forge advertises to `command` (`git-upload-pack '<path>'`, as git would ask for it),
 * asked through the master listening at `socketPath`. Throws NoSharedConnection when no master listens there (the
 * caller asks the usual way, which starts one); any other error when the forge or the master did not answer well.
 */
export async function advertisedRefs(socketPath: string, command: string, timeoutMs: number): Promise<Map<string, string>> {
  let remoteId: number | undefined
  let consumed = 0
  let stdout: Buffer = Buffer.alloc(0)
  let stderr = ''
  let refs: Map<string, string> | undefined
  let closeSent = false
  const message = (type: number, ...body: Buffer[]) => frame(Buffer.from([0, type]), ...body)
  const send = (type: number, ...body: Buffer[]) => control.socket.write(message(type, ...body))
  const close = () => {
    if (!closeSent && remoteId !== undefined) send(SSH_MSG_CHANNEL_CLOSE, u32(remoteId))
    closeSent = true
  }
  let proxied = false
  // Proxy mode, and a session channel in it, asked for at once: the master takes them in order.
  const proxy = frame(u32(MUX_C_PROXY), u32(1))
  const open = message(SSH_MSG_CHANNEL_OPEN, sshString('session'), u32(CHANNEL_ID), u32(WINDOW), u32(MAX_PACKET))
  const control = openControl(socketPath, timeoutMs, [proxy, open], (reply) => {
    if (!proxied) {
      if (reply.readUInt32BE(0) !== MUX_S_PROXY) throw new NoSharedConnection('the master does not offer proxy mode')
      proxied = true
      return
    }
    // [padding length 0][type][recipient channel (ours)][...]
    const type = reply[1]
    const body = reply.subarray(6)
    switch (type) {
      case SSH_MSG_CHANNEL_OPEN_CONFIRMATION: {
        remoteId = body.readUInt32BE(0)
        send(SSH_MSG_CHANNEL_REQUEST, u32(remoteId), sshString('exec'), Buffer.from([0]), sshString(command))
        return
      }
      case SSH_MSG_CHANNEL_OPEN_FAILURE:
        throw new Error(`the forge refused a session: ${body.subarray(8, 8 + body.readUInt32BE(4)).toString('utf8')}`)
      case SSH_MSG_CHANNEL_DATA: {
        const data = body.subarray(4, 4 + body.readUInt32BE(0))
        stdout = Buffer.concat([stdout, data])
        consumed += data.length
        if (consumed > WINDOW / 2) {
          send(SSH_MSG_CHANNEL_WINDOW_ADJUST, u32(remoteId!), u32(consumed))
          consumed = 0
        }
        if (refs === undefined && (refs = parseAdvertisement(stdout)) !== undefined) {
          // All we wanted: a flush says "nothing to fetch", and upload-pack ends as it does for ls-remote.
          control.socket.write(Buffer.concat([message(SSH_MSG_CHANNEL_DATA, u32(remoteId!), sshString('0000')), message(SSH_MSG_CHANNEL_EOF, u32(remoteId!))]))
        }
        return
      }
      case SSH_MSG_CHANNEL_EXTENDED_DATA: {
        if (stderr.length < STDERR_LIMIT) stderr += body.subarray(8, 8 + body.readUInt32BE(4)).toString('utf8')
        return
      }
      case SSH_MSG_CHANNEL_REQUEST: {
        // exit-status, exit-signal, keepalive: answered only when an answer is asked for (we know none of them).
        const name = body.readUInt32BE(0)
        if (body[4 + name] === 1) send(SSH_MSG_CHANNEL_FAILURE, u32(remoteId!))
        return
      }
      case SSH_MSG_CHANNEL_CLOSE: {
        close()
        if (refs) control.done()
        else control.fail(new Error(stderr.trim().split('\n')[0] || 'the forge ended the session without advertising its refs'))
        return
      }
      default: // window adjustments, success, the forge's EOF: nothing to do
    }
  })
  await control.finished
  return refs!
}

/**
 * Ask the master at `socketPath` to stop: `stop-listening` removes its socket at once and lets the sessions that run
 * finish (then it exits); `terminate` ends it now. Resolves to whether it agreed (false when none listened there).
 */
export async function stopMaster(socketPath: string, how: 'stop-listening' | 'terminate', timeoutMs = 2000): Promise<boolean> {
  const request = how === 'terminate' ? MUX_C_TERMINATE : MUX_C_STOP_LISTENING
  let agreed = false
  const control = openControl(socketPath, timeoutMs, [frame(u32(request), u32(1))], (reply) => {
    agreed = reply.readUInt32BE(0) === MUX_S_OK
    control.done()
  })
  try {
    await control.finished
  } catch {
    // Gone already, or it went while answering (terminate may close before its answer): either way it is stopping.
  }
  return agreed
}
