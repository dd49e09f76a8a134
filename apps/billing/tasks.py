from celery import shared_task

from . import services


@shared_task(name="apps.billing.tasks.send_low_balance_emails")
def send_low_balance_emails() -> int:
    return services.low_balance_notify()


@shared_task(name="apps.billing.tasks.run_auto_topups")
def run_auto_topups() -> int:
    due = services.auto_topups_due()
    for user_id in due:
        auto_topup.delay(user_id)
    return len(due)


@shared_task(
    name="apps.billing.tasks.auto_topup",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def auto_topup(user_id: int) -> str:
    attempt = services.auto_topup_run(user_id=user_id)
    return attempt.status if attempt else "not due"


@shared_task(
    name="apps.billing.tasks.auto_topup_invoice",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=8,
)
def auto_topup_invoice(payment_id: int) -> str:
    """The invoice of a paid auto top-up, after the credit (Stripe being slow never delays it)."""
    return services.auto_topup_invoice_create(payment_id=payment_id)


@shared_task(
    name="apps.billing.tasks.stripe_customer_forget",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=10,
)
def stripe_customer_forget(customer_id: str, payment_method_id: str) -> str:
    """A deleted account's card and Stripe customer, removed at Stripe after the deletion."""
    return services.stripe_customer_forget(
        customer_id=customer_id, payment_method_id=payment_method_id
    )


@shared_task(name="apps.billing.tasks.send_budget_alerts")
def send_budget_alerts() -> int:
    return services.budget_alerts_send()
