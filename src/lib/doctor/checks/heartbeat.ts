import type {DoctorCheck} from '../check.ts'

export const heartbeatChecks: DoctorCheck[] = []
