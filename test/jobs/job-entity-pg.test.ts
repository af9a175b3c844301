import { jobEntitySuite } from "./job-entity.js"

jobEntitySuite("pg")
