/**
 * The payments feature's layers. `PaymentsLive` needs the runner (Sharding), SQL, AppConfig,
 * the Telegram gateway and OperatorAlerts; `ReconciliationLive` adds the periodic check.
 */
import { Layer } from "effect"
import { CreditLedger } from "../storage/credit-ledger.js"
import { UsersRepo } from "../storage/users-repo.js"
import { PaymentService } from "./payment-service.js"
import { PaymentsRepo } from "./payments-repo.js"
import { ReconciliationStore } from "./reconciliation-store.js"
import { reconciliationSingleton } from "./reconciliation.js"
import { PaymentSecret } from "./secret.js"
import { UserCredits } from "./user-credits.js"

export const PaymentsLive = PaymentService.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(
    PaymentsRepo.Default,
    ReconciliationStore.Default,
    UserCredits.Default,
    PaymentSecret.layer,
    UsersRepo.Default,
    CreditLedger.Default
  ))
)

export const ReconciliationLive = reconciliationSingleton().pipe(Layer.provide(PaymentsLive))

export { PaymentService } from "./payment-service.js"
export { PaymentsRepo } from "./payments-repo.js"
export { ReconciliationStore } from "./reconciliation-store.js"
export { PaymentSecret } from "./secret.js"
export { UserCredits } from "./user-credits.js"
