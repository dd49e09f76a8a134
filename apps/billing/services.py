"""Billing's services, one module per sub-domain; this module only names them, so callers that
import ``apps.billing.services`` keep working:

- ``stripe_api``: the Stripe client, whether Stripe is on, a valid top-up amount, shared facts;
- ``currencies``: prices per currency and the payment methods offered in each (no writes);
- ``checkout``: top-ups through Stripe Checkout, fulfilled exactly once, the buyer's currency;
- ``redemption``: redemption code batches, and redeeming a code once;
- ``referrals``: invite codes, the tie of a new account to its inviter, commissions;
- ``webhooks``: Stripe's events, refunds and disputes, invoices linked to their payments;
- ``auto_topup``: a saved card, auto top-up, and its invoice;
- ``alerts``: low balance and monthly budget e-mails;
- ``privacy``: what billing forgets when a user deletes their account.

To replace one of these in a test, patch it in the module that calls it."""

from .alerts import (
    billing_profile,
    budget_alerts_send,
    low_balance_notify,
    low_balance_threshold_set,
)
from .auto_topup import (
    CHARGED,
    auto_topup_for,
    auto_topup_invoice_create,
    auto_topup_run,
    auto_topup_settings_set,
    auto_topups_due,
    card_setup_complete,
    card_setup_start,
    payment_intent_failed,
    payment_intent_fulfil,
)
from .checkout import (
    billing_currency_set,
    checkout_closed,
    checkout_create,
    checkout_failed,
    checkout_fulfil,
    checkout_session_retrieve,
)
from .privacy import (
    CUSTOMER_KEYS,
    PERSONAL_KEYS,
    auto_topup_close_account,
    billing_forget_user,
    stripe_customer_forget,
)
from .redemption import (
    NewBatch,
    RedemptionRefused,
    redemption_batch_create,
    redemption_batch_void,
    redemption_redeem,
)
from .referrals import (
    referral_commission_post,
    referral_summary,
    referral_tie,
    referrer_ensure,
    referrer_suspend,
)
from .stripe_api import (
    CREDITED,
    MISMATCH,
    NotYetFulfilled,
    TopUpsOff,
    invoice_store,
    stripe_client,
    stripe_enabled,
    validate_dollars,
)
from .webhooks import (
    BadSignature,
    charge_refunded,
    charge_succeeded,
    dispute_closed,
    dispute_created,
    invoice_recorded,
    stripe_event_receive,
)

__all__ = [
    "CHARGED",
    "CREDITED",
    "CUSTOMER_KEYS",
    "MISMATCH",
    "PERSONAL_KEYS",
    "BadSignature",
    "NewBatch",
    "NotYetFulfilled",
    "RedemptionRefused",
    "TopUpsOff",
    "auto_topup_close_account",
    "auto_topup_for",
    "auto_topup_invoice_create",
    "auto_topup_run",
    "auto_topup_settings_set",
    "auto_topups_due",
    "billing_currency_set",
    "billing_forget_user",
    "billing_profile",
    "budget_alerts_send",
    "card_setup_complete",
    "card_setup_start",
    "charge_refunded",
    "charge_succeeded",
    "checkout_closed",
    "checkout_create",
    "checkout_failed",
    "checkout_fulfil",
    "checkout_session_retrieve",
    "dispute_closed",
    "dispute_created",
    "invoice_recorded",
    "invoice_store",
    "low_balance_notify",
    "low_balance_threshold_set",
    "payment_intent_failed",
    "payment_intent_fulfil",
    "redemption_batch_create",
    "redemption_batch_void",
    "redemption_redeem",
    "referral_commission_post",
    "referral_summary",
    "referral_tie",
    "referrer_ensure",
    "referrer_suspend",
    "stripe_client",
    "stripe_customer_forget",
    "stripe_enabled",
    "stripe_event_receive",
    "validate_dollars",
]
