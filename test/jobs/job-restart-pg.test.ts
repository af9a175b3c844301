import { jobRestartSuite } from "./job-restart.js"

jobRestartSuite("pg")
