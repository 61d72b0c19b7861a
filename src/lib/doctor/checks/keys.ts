import type {DoctorCheck} from '../check.ts'

export const keyChecks: DoctorCheck[] = []
