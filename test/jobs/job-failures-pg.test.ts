import { jobFailureSuite } from "./job-failures.js"

jobFailureSuite("pg")
