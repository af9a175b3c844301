import { jobRestartSuite, secretsSuite } from "./job-restart.js"

jobRestartSuite("sqlite")
secretsSuite()
