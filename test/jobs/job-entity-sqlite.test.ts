import { jobEntitySuite } from "./job-entity.js"

jobEntitySuite("sqlite")
