import { jobFailureSuite } from "./job-failures.js"

jobFailureSuite("sqlite")
