import type {DoctorCheck} from '../check.ts'

export const agentChecks: DoctorCheck[] = []
