import type {DoctorCheck} from '../check.ts'

export const managedPathChecks: DoctorCheck[] = []
