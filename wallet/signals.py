from __future__ import annotations

from django.dispatch import Signal

# Sent by the ledger after a commit that crossed a balance threshold, with `wallet_id`, `low_balance`
# and `auto_topup`; wallet.tasks enqueues the follow-ups. A signal, because the tasks sit above the
# ledger (they run the reconciler and the auto top-up, which write through it).
balance_crossed = Signal()
