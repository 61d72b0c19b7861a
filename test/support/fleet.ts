// A fleet for a scenario: a forge and machines, the first one starting the fleet and approving the others.
import {Forge} from './forge.ts'
import {Machine} from './machine.ts'

export async function activeFleet(root: string, names: string[]): Promise<{forge: Forge; machines: Machine[]}> {
  const forge = await Forge.create(root)
  const machines = names.map((name) => new Machine(root, name))
  for (const machine of machines) await machine.enroll(forge.url)
  for (const machine of machines.slice(1)) await machines[0].ok(['machines', 'approve', machine.name])
  return {forge, machines}
}
