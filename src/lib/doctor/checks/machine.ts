import type {DoctorCheck} from '../check.ts'

export const machineChecks: DoctorCheck[] = []
