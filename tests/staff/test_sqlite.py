"""``make run``'s embedded SQLite: every staff console page answers, and ``manage.py reconcile``
passes on a day of traffic, payments and a refund, and fails once a record is altered. Run in a
child process with the development settings and no DATABASE_URL (the suite's own database is
PostgreSQL)."""

import json
import os
import subprocess
import sys

from django.conf import settings as django_settings

SCRIPT = """
import io, json
from datetime import timedelta
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()  # testserver allowed, templates' contexts recorded
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from apps.accounts.models import User
from apps.billing.models import Payment
from apps.billing.webhooks import charge_refunded
from apps.credits import services as credits
from apps.credits.models import Account
from apps.staff.views import EXPORTS
from apps.usage.models import UsageRecord
from apps.usage.rollup import rollup_step
from apps.usage.services import RequestOutcome, request_settle

call_command("migrate", verbosity=0)
staff = User.objects.create(email="staff@example.com", is_staff=True, is_superuser=True)
user = User.objects.create(email="customer@example.com")
credits.credits_grant(user_id=user.pk, amount=10**9, kind="adjustment", reference="start")
account = Account.objects.get(user=user)
now = timezone.now()
day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
for i in range(30):
    request_id = f"req_sqlite_{i}"
    cost, failed = 1000 + 37 * i, i % 7 == 0
    credits.credits_hold(account_id=account.pk, amount=cost, reference=request_id)
    deployment = ["a:K:alpha", "b:K:beta"][i % 2]
    request_settle(outcome=RequestOutcome(
        request_id=request_id, user_id=user.pk, api_key_id=None, model=["alpha", "beta"][i % 2],
        status=502 if failed else 200,
        created_at=now - timedelta(minutes=30 - i) if i >= 28 else day + timedelta(minutes=40 * i),
        prompt_tokens=100, completion_tokens=50, cost=0 if failed else cost,
        upstream_cost=None if i % 5 == 0 else (0 if failed else cost // 2),
        deployment=deployment, attempts=[[deployment, 502 if failed else 200, 90]]))
for n, (method, currency, cents) in enumerate([("card", "usd", 1000), ("alipay", "cny", 7200)]):
    Payment.objects.create(
        user=user, amount_cents=cents, currency=currency, credits=10**9,
        payment_method=method, status=Payment.Status.PAID, checkout_session_id=f"cs_{n}",
        payment_intent_id=f"pi_{n}", paid_at=day + timedelta(hours=2))
    credits.credits_grant(user_id=user.pk, amount=10**9, kind="topup", reference=f"stripe:cs_{n}")
charge_refunded(charge={"id": "ch_0", "payment_intent": "pi_0", "amount_refunded": 400,
    "refunds": {"data": [{"id": "re_0", "amount": 400, "status": "succeeded"}]}})
run = rollup_step()

client = Client()
client.force_login(staff)
pages = {"console": reverse("staff:console")}
pages.update({kind: reverse("staff:export", args=[kind]) for kind in EXPORTS})
statuses, models = {}, {}
for name, url in pages.items():
    response = client.get(url)
    statuses[name] = response.status_code
    if name == "console":
        models = {r["model"]: [r["revenue"], r["upstream_cost"], r["unknown"]]
                  for r in response.context["by_model"]}
        health = len(response.context["health"])
        customers = {r["user__email"]: r["revenue"] for r in response.context["by_customer"]}
        active = response.context["activity"]["active"]
        refunded = sum(r["refunded_cents"] for r in response.context["cash_in"])
    elif response.streaming:
        b"".join(response.streaming_content)

def reconcile():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile", "--since", (day - timedelta(days=1)).isoformat(),
                     "--until", now.isoformat(), stdout=out, stderr=err)
    except CommandError as exc:
        return "failed: " + str(exc) + err.getvalue()
    return out.getvalue()

passed = reconcile()
record = UsageRecord.objects.filter(cost__gt=0).first()
UsageRecord.objects.filter(pk=record.pk).update(cost=record.cost + 1)
altered = reconcile()
raw = {}
for r in UsageRecord.objects.exclude(pk=record.pk).values("model", "cost", "upstream_cost"):
    sums = raw.setdefault(r["model"], [0, 0, 0])
    sums[0] += r["cost"]
    sums[1] += r["upstream_cost"] or 0
    sums[2] += r["upstream_cost"] is None
raw[record.model][0] += record.cost  # as it was when the console read it
raw[record.model][1] += record.upstream_cost or 0
raw[record.model][2] += record.upstream_cost is None
print(json.dumps({"vendor": connection.vendor, "counted": run.records, "statuses": statuses,
    "customers": customers, "active": active, "today": int(UsageRecord.objects.filter(
        created_at__gte=now.replace(hour=0, minute=0, second=0, microsecond=0)).exists()),
    "models": models, "raw": raw, "health": health, "refunded": refunded,
    "passed": passed, "altered": altered}))
"""


def test_the_console_and_reconcile_work_on_the_embedded_sqlite_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", OPENCODEX_VAR_DIR=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["vendor"] == "sqlite" and result["counted"] == 30
    assert set(result["statuses"].values()) == {200}, result["statuses"]
    assert len(result["statuses"]) == 7  # the console and its six exports
    assert result["models"] == result["raw"]
    assert result["customers"] == {
        "customer@example.com": sum(revenue for revenue, _, _ in result["raw"].values())
    }
    assert result["active"] == {"day": result["today"], "week": 1, "month": 1}
    assert result["health"] == 2 and result["refunded"] == 400
    assert "reconciled: every figure matches" in result["passed"], result["passed"]
    assert "refunded usd card: 400 / 400" in result["passed"]
    assert result["altered"].startswith("failed: ") and "mismatch" in result["altered"]
