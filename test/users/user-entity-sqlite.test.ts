import { userEntitySuite } from "./user-entity.js"

userEntitySuite("sqlite")
