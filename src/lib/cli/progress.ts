// Multi-step progress with listr2: a live view in a terminal, one plain line per step otherwise (agents, CI,
// pipes). Progress goes to stderr when the command's stdout carries JSON.
import type {ListrTask} from 'listr2'

export interface Step<C> {
  title: string
  run(ctx: C): Promise<string>
}

export async function runSteps<C extends object>(steps: Step<C>[], ctx: C, options: {json: boolean}): Promise<void> {
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const stream = options.json ? process.stderr : process.stdout
  const output = new ProcessOutput(stream, process.stderr)
  const interactive = Boolean(stream.isTTY) && !process.env.CI
  const tasks: ListrTask<C>[] = steps.map((step) => ({
    title: step.title,
    task: async (c, task) => {
      const detail = await step.run(c)
      task.title = `${step.title}: ${detail}`
    },
  }))
  const list = new Listr<C, 'default', 'simple'>(tasks, {
    ctx,
    exitOnError: true,
    renderer: 'default',
    fallbackRenderer: 'simple',
    // listr2 falls back to the simple renderer when this holds: no terminal, or CI.
    fallbackRendererCondition: !interactive,
    rendererOptions: {logger: new ListrLogger({processOutput: output})},
    fallbackRendererOptions: {logger: new ListrLogger({processOutput: output})},
    collectErrors: false,
    registerSignalListeners: true,
  })
  await list.run()
}
