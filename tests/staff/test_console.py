"""The staff console: a scripted day of traffic over three models with known upstream costs,
settled as the gateway settles it; the console's revenue, upstream cost and margin per model
equal the raw records to the µcr; ``manage.py reconcile`` passes, and fails when a record (or a
payment) is altered; only staff see it; the CSV exports download."""

import csv
import io
import itertools
import random
from datetime import UTC, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from apps.billing.models import Payment
from apps.catalog.pricing import Usage, upstream_usage_cost, usage_cost
from apps.catalog.selectors import Route, Target
from apps.credits import services as credits
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.usage.models import DeploymentHour, UsageHour, UsageRecord
from apps.usage.rollup import rollup_differences, rollup_step
from apps.usage.services import RequestOutcome, request_settle
from tests.factories import UserFactory

_ids = itertools.count()


def _route(public_id, input_price, output_price, cached=None, write=None):
    return Route(
        public_id=public_id,
        upstream_id=public_id,
        base_url="https://up.invalid/v1",
        api_key=None,
        provider="up",
        family="t",
        input_price=input_price,
        output_price=output_price,
        context_length=100_000,
        max_output=4096,
        created=0,
        cached_input_price=cached,
        cache_write_price=write,
    )


def _target(name, cost_input, cost_output, cached=None, write=None):
    return Target(
        name=name,
        provider=name.split(":")[0],
        base_url="https://up.invalid/v1",
        api_key=None,
        upstream_id="x",
        cost_input=cost_input,
        cost_output=cost_output,
        cost_cached_input=cached,
        cost_cache_write=write,
    )


# Three models with known upstream costs (µcr per 1M tokens), the third with two deployments,
# one of which declares no cost (its requests' upstream cost is unknown).
MODELS = {
    "alpha": (
        _route("alpha", 300_000_000, 1_500_000_000, cached=30_000_000, write=375_000_000),
        [_target("anthropic:K1:alpha", 250_000_000, 1_250_000_000, cached=25_000_000)],
    ),
    "beta": (
        _route("beta", 27_000_000, 110_000_000),
        [_target("deepseek:K:beta", 20_000_000, 90_000_000)],
    ),
    "gamma": (
        _route("gamma", 100_000_000, 400_000_000, cached=10_000_000),
        [
            _target("openai:K:gamma", 80_000_000, 320_000_000, write=90_000_000),
            _target("other:K:gamma", None, None),
        ],
    ),
}


def _day_start():
    return (
        (timezone.now() - timedelta(days=1))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )


def scripted_day(user, account, seed=7):
    """A day of traffic: every hour a few requests per model, some with cached reads and cache
    writes, a few failing; each held and settled through ``request_settle``. Returns the
    expected sums per model, computed here from the usage at the catalog's prices."""
    rng = random.Random(seed)
    day = _day_start()
    expected = {m: {"revenue": 0, "upstream_cost": 0, "unknown": 0, "requests": 0} for m in MODELS}
    for hour in range(24):
        for model, (route, targets) in MODELS.items():
            for _ in range(rng.randint(1, 3)):
                target = rng.choice(targets)
                prompt = rng.randint(10, 5000)
                cached = rng.choice([0, 0, rng.randint(0, prompt // 2)])
                write = rng.choice([0, rng.randint(0, (prompt - cached) // 3)])
                usage = Usage(prompt, rng.randint(1, 900), cached, write)
                failed = rng.random() < 0.1
                cost = 0 if failed else usage_cost(route, usage)
                upstream = 0 if failed else upstream_usage_cost(target, usage)
                request_id = f"req_staff_{next(_ids)}"
                credits.credits_hold(account_id=account.pk, amount=cost + 1, reference=request_id)
                request_settle(
                    outcome=RequestOutcome(
                        request_id=request_id,
                        user_id=user.pk,
                        api_key_id=None,
                        model=model,
                        status=502 if failed else 200,
                        created_at=day + timedelta(hours=hour, minutes=rng.randint(0, 59)),
                        prompt_tokens=0 if failed else usage.prompt,
                        completion_tokens=0 if failed else usage.completion,
                        cached_tokens=0 if failed else usage.cached,
                        cache_write_tokens=0 if failed else usage.cache_write,
                        cost=cost,
                        upstream_cost=upstream,
                        deployment=target.name,
                        attempts=[[target.name, 502 if failed else 200, 100]],
                    )
                )
                sums = expected[model]
                sums["requests"] += 1
                sums["revenue"] += cost
                if upstream is None:
                    sums["unknown"] += 1
                else:
                    sums["upstream_cost"] += upstream
    return expected


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", verified=True, is_staff=True)


@pytest.fixture
def traffic(funded_account):
    account = funded_account(credits=10_000)
    expected = scripted_day(account.user, account)
    assert rollup_step().records == sum(e["requests"] for e in expected.values())
    return account, expected


def _raw_by_model():
    day = _day_start()
    rows = (
        UsageRecord.objects.filter(created_at__gte=day, created_at__lt=day + timedelta(days=1))
        .values("model")
        .annotate(
            revenue=Sum("cost"),
            upstream=Sum("upstream_cost", default=0),
            unknown=Count("id", filter=Q(upstream_cost__isnull=True)),
            requests=Count("id"),
        )
    )
    out = {}
    for r in rows:
        r["upstream_cost"] = r.pop("upstream")
        out[r.pop("model")] = r
    return out


@pytest.mark.django_db(transaction=True)
def test_console_revenue_cost_and_margin_per_model_equal_the_raw_records(client, staff, traffic):
    _, expected = traffic
    raw = _raw_by_model()
    assert raw == expected  # the records store what the script priced, to the µcr
    assert all(e["upstream_cost"] > 0 and e["revenue"] > e["upstream_cost"] for e in raw.values())
    assert raw["gamma"]["unknown"] > 0  # its second deployment declares no cost
    client.force_login(staff)
    response = client.get(reverse("staff:console"))
    assert response.status_code == 200
    by_model = {r["model"]: r for r in response.context["by_model"]}
    for model, sums in raw.items():
        row = by_model[model]
        assert (row["revenue"], row["upstream_cost"], row["unknown"], row["requests"]) == (
            sums["revenue"],
            sums["upstream_cost"],
            sums["unknown"],
            sums["requests"],
        )
        assert row["margin"] == sums["revenue"] - sums["upstream_cost"]
    total = response.context["day_total"]
    assert total["revenue"] == sum(s["revenue"] for s in raw.values())
    assert total["margin"] == total["revenue"] - sum(s["upstream_cost"] for s in raw.values())
    # By deployment (its own rollup) adds up to the same.
    by_deployment = response.context["by_deployment"]
    assert sum(r["revenue"] for r in by_deployment) == total["revenue"]
    assert {r["provider"] for r in response.context["by_provider"]} == {
        "anthropic",
        "deepseek",
        "openai",
        "other",
    }
    assert rollup_differences(since=_day_start(), until=timezone.now()) == []
    assert ledger_problems() == []


@pytest.mark.django_db(transaction=True)
def test_console_reads_rollups_in_a_bounded_number_of_queries(
    client, staff, traffic, django_assert_max_num_queries
):
    client.force_login(staff)
    with django_assert_max_num_queries(25):
        assert client.get(reverse("staff:console")).status_code == 200


def _reconcile(**kwargs):
    out, err = io.StringIO(), io.StringIO()
    day = _day_start()
    call_command(
        "reconcile",
        "--since",
        kwargs.get("since", day.isoformat()),
        "--until",
        kwargs.get("until", (day + timedelta(days=1)).isoformat()),
        stdout=out,
        stderr=err,
    )
    return out.getvalue()


def _pay(user, *, cents, credits_, method="card", currency="usd", ref=None, intent=""):
    ref = ref or f"cs_test_{next(_ids)}"
    payment = Payment.objects.create(
        user=user,
        amount_cents=cents,
        currency=currency,
        credits=credits_,
        payment_method=method,
        status=Payment.Status.PAID,
        checkout_session_id=ref,
        payment_intent_id=intent,
        paid_at=_day_start() + timedelta(hours=3),
    )
    credits.credits_grant(user_id=user.pk, amount=credits_, kind="topup", reference=f"stripe:{ref}")
    return payment


@pytest.mark.django_db(transaction=True)
def test_reconcile_passes_and_fails_when_a_record_is_altered(traffic):
    account, _ = traffic
    _pay(account.user, cents=1000, credits_=1000 * 10**6)
    _pay(account.user, cents=7200, credits_=1000 * 10**6, method="alipay", currency="cny")
    assert "reconciled" in _reconcile()
    # A wider window (the records outside it in the same rollup windows) reconciles too, and a
    # window inside the day (its edges inside rollup windows).
    assert "reconciled" in _reconcile(
        since=(_day_start() - timedelta(days=3)).isoformat(), until=timezone.now().isoformat()
    )
    assert "reconciled" in _reconcile(
        since=(_day_start() + timedelta(hours=5)).isoformat(),
        until=(_day_start() + timedelta(hours=17)).isoformat(),
    )
    record = UsageRecord.objects.filter(cost__gt=0).order_by("created_at").first()
    UsageRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
        cost=record.cost + 1
    )
    with pytest.raises(CommandError, match="mismatch"):
        _reconcile()


@pytest.mark.django_db(transaction=True)
def test_reconcile_fails_when_a_payment_is_altered(traffic):
    account, _ = traffic
    payment = _pay(account.user, cents=1000, credits_=1000 * 10**6)
    assert "reconciled" in _reconcile()
    Payment.objects.filter(pk=payment.pk).update(credits=payment.credits + 1)
    with pytest.raises(CommandError, match="mismatch"):
        _reconcile()


def _refund(intent, refund_id, cents):
    from apps.billing.webhooks import charge_refunded

    payment = Payment.objects.get(payment_intent_id=intent)
    total = payment.amount_refunded_cents + cents
    refund = {"id": refund_id, "amount": cents, "status": "succeeded"}
    charge_refunded(
        charge={
            "id": f"ch_{intent}",
            "payment_intent": intent,
            "amount_refunded": total,
            "refunds": {"data": [refund]},
        }
    )


@pytest.mark.django_db(transaction=True)
def test_reconcile_proves_refunds_by_method_and_currency_against_payments_and_ledger(
    client, staff, traffic
):
    account, _ = traffic
    _pay(account.user, cents=1000, credits_=1000 * 10**6, intent="pi_card")
    _pay(account.user, cents=2000, credits_=2000 * 10**6, intent="pi_card2")
    _pay(account.user, cents=7200, credits_=1000 * 10**6, method="alipay", currency="cny",
         intent="pi_alipay")  # fmt: skip
    _refund("pi_card", "re_1", 300)  # a partial refund, then the rest of it
    _refund("pi_card", "re_2", 700)
    _refund("pi_alipay", "re_3", 7200)
    out = _reconcile()
    assert "reconciled" in out
    assert "refunded usd card: 1000 / 1000" in out and "net cash in usd card: 2000 / 2000" in out
    assert "refunded cny alipay: 7200 / 7200" in out and "net cash in cny alipay: 0 / 0" in out
    refunded = 2000 * 10**6  # all of the first card payment and of the alipay one
    assert f"credits refunded (payments / ledger): {refunded} / {refunded}" in out
    client.force_login(staff)
    rows = {
        (r["payment_method"], r["currency"]): r
        for r in client.get(reverse("staff:console")).context["cash_in"]
    }
    assert (rows["card", "usd"]["amount_cents"], rows["card", "usd"]["net_cents"]) == (3000, 2000)
    assert rows["alipay", "cny"]["credits_refunded"] == 1000 * 10**6

    # A payment whose refunded credits were changed by hand no longer matches the ledger.
    payment = Payment.objects.get(payment_intent_id="pi_card")
    Payment.objects.filter(pk=payment.pk).update(credits_refunded=payment.credits_refunded - 1)
    with pytest.raises(CommandError, match="mismatch"):
        _reconcile()
    Payment.objects.filter(pk=payment.pk).update(credits_refunded=payment.credits_refunded)
    assert "reconciled" in _reconcile()
    # Nor does a refund posting changed by hand.
    entry = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).first()
    LedgerEntry.objects.filter(pk=entry.pk).update(amount=entry.amount + 1)
    with pytest.raises(CommandError, match="mismatch"):
        _reconcile()


@pytest.mark.django_db
def test_non_staff_are_sent_to_the_login_and_never_see_figures(client, owner):
    url = reverse("staff:console")
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and reverse("admin:login") in anonymous["Location"]
    client.force_login(owner)  # signed in, not staff
    for address in (url, reverse("staff:export", args=["model"])):
        response = client.get(address)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_csv_exports_download(client, staff, traffic):
    client.force_login(staff)
    raw = _raw_by_model()
    response = client.get(reverse("staff:export", args=["model"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # a byte order mark: Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {r["model"]: int(r["revenue"]) for r in rows} == {
        m: s["revenue"] for m, s in raw.items()
    }
    assert {r["model"]: int(r["margin"]) for r in rows} == {
        m: s["revenue"] - s["upstream_cost"] for m, s in raw.items()
    }
    for kind in ("day", "hour", "deployment", "customer", "payments"):
        assert client.get(reverse("staff:export", args=[kind])).status_code == 200
    assert client.get(reverse("staff:export", args=["nope"])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_admin_index_links_the_console(client, staff):
    client.force_login(staff)
    assert reverse("staff:console") in client.get(reverse("admin:index")).content.decode()


def test_upstream_cost_prices_the_same_usage_with_fallbacks():
    usage = Usage(prompt=1000, completion=500, cached=300, cache_write=200)
    target = _target("p:K:m", 1_000_000, 4_000_000)  # no cached or write price: input's
    assert upstream_usage_cost(target, usage) == 1000 * 1 + 500 * 4
    priced = _target("p:K:m", 1_000_000, 4_000_000, cached=100_000, write=2_000_000)
    # uncached 500 at 1, cached 300 at 0.1, writes 200 at 2, output 500 at 4 (µcr per token)
    assert upstream_usage_cost(priced, usage) == 500 + 30 + 400 + 2000
    assert upstream_usage_cost(_target("p:K:m", None, None), usage) is None
    assert upstream_usage_cost(None, usage) is None
    assert DeploymentHour._meta.db_table == "usage_deploymenthour"
    assert UsageHour._meta.get_field("unknown_cost")


@pytest.mark.django_db
def test_health_credits_outstanding_and_signups(client, staff, funded_account):
    from tests.usage.factories import record

    account = funded_account(credits=42)
    now = timezone.now()
    a, b = "fast:K:m", "slow:K:m"
    record(
        account.user,
        at=now - timedelta(minutes=5),
        deployment=a,
        attempts=[[b, 429, 5], [a, 200, 40]],
    )
    record(
        account.user,
        at=now - timedelta(minutes=4),
        deployment=a,
        stream=True,
        ttft_ms=90,
        attempts=[[a, 200, 60]],
    )
    record(
        account.user,
        at=now - timedelta(minutes=3),
        deployment="",
        status=502,
        attempts=[[b, 500, 10]],
    )
    client.force_login(staff)
    context = client.get(reverse("staff:console")).context
    health = {h["deployment"]: h for h in context["health"]}
    assert (health[b]["attempts"], health[b]["errors"], health[b]["rate_limited"]) == (2, 2, 1)
    assert (health[a]["p50_ms"], health[a]["p50_ttft_ms"], health[a]["errors"]) == (
        60,
        90,
        0,
    )  # the upper median of 40 and 60
    assert context["outstanding"]["balance"] == 42 * 10**6
    assert context["activity"]["signups"]["day"] == 2  # the customer and the staff member


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_gives_the_same_costs_and_check_rollups_sees_an_altered_cost(traffic):
    from apps.usage.rollup import rollup_rebuild

    def snapshot():
        return (
            sorted(
                UsageHour.objects.values_list(
                    "hour", "model", "cost", "upstream_cost", "unknown_cost"
                )
            ),
            sorted(
                DeploymentHour.objects.values_list(
                    "hour", "deployment", "model", "cost", "upstream_cost", "unknown_cost"
                )
            ),
        )

    incremental = snapshot()
    assert sum(row[4] for row in incremental[1]) > 0  # unknown costs are counted
    rollup_rebuild(since=_day_start() - timedelta(days=1))
    assert snapshot() == incremental
    record = UsageRecord.objects.filter(upstream_cost__gt=0).first()
    UsageRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
        upstream_cost=record.upstream_cost + 1
    )
    problems = rollup_differences(since=_day_start(), until=timezone.now())
    assert len(problems) == 3  # its user's bucket, its deployment's and its user's day


@pytest.mark.django_db(transaction=True)
def test_a_busy_hours_health_reads_its_latest_records_and_says_so(
    client, staff, funded_account, monkeypatch
):
    from tests.usage.factories import record

    account = funded_account(credits=1)
    now = timezone.now()
    for minutes, status in [(50, 500), (40, 500), (3, 200), (2, 429), (1, 200)]:
        record(
            account.user,
            at=now - timedelta(minutes=minutes),
            deployment="p:K:m",
            attempts=[["p:K:m", status, 10]],
        )
    client.force_login(staff)
    monkeypatch.setattr("apps.usage.selectors.HEALTH_RECORDS", 3)
    response = client.get(reverse("staff:console"))
    (health,) = response.context["health"]
    assert (health["attempts"], health["errors"], health["rate_limited"]) == (3, 1, 1)
    span = response.context["health_span"]
    assert span.capped and span.records == 3 and span.since == now - timedelta(minutes=3)
    assert "Busy hour: the latest 3 requests" in response.content.decode()
    monkeypatch.setattr("apps.usage.selectors.HEALTH_RECORDS", 100)
    response = client.get(reverse("staff:console"))
    (health,) = response.context["health"]
    assert (health["attempts"], health["errors"], health["rate_limited"]) == (5, 3, 1)
    assert not response.context["health_span"].capped
    assert "Busy hour" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_top_customers_and_active_accounts_over_days_equal_the_records(client, staff):
    """Customers over 30 days come from the daily rollup (and the hours of a part day): the
    same figures as the raw records, for customers active on different days, today included."""
    from tests.usage.factories import record

    now = timezone.now()
    people = [UserFactory(email=f"c{i}@example.com") for i in range(4)]
    ages = {0: [1, 2, 20], 1: [40 * 24], 2: [24 * 5, 24 * 12], 3: [24 * 29, 3]}  # hours ago
    for i, user in enumerate(people):
        for n, hours in enumerate(ages[i]):
            record(user, at=now - timedelta(hours=hours, minutes=n), cost=1000 * (i + 1) + n,
                   upstream_cost=None if n else 700)  # fmt: skip
    rollup_step()
    since = selectors_period()
    rows = UsageRecord.objects.filter(created_at__gte=since.since).values("user_id")
    rows = rows.annotate(
        revenue=Sum("cost"), upstream=Sum("upstream_cost", default=0), requests=Count("id")
    )
    raw = {r["user_id"]: (r["revenue"], r["upstream"], r["requests"]) for r in rows}
    client.force_login(staff)
    context = client.get(reverse("staff:console")).context
    shown = {
        r["user_id"]: (r["revenue"], r["upstream_cost"], r["requests"])
        for r in context["by_customer"]
    }
    assert shown == raw and people[1].pk not in shown  # 40 days ago: outside the month
    assert context["by_customer"][0]["user__email"] == "c3@example.com"
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = UsageRecord.objects.filter(created_at__gte=midnight).values("user_id").distinct()
    assert context["activity"]["active"] == {"day": today.count(), "week": 3, "month": 3}


def selectors_period():
    from apps.staff.selectors import Period

    return Period.last_days(30)


@pytest.mark.django_db
def test_staff_with_two_factor_reach_the_console_only_after_their_code(client, password):
    """The console is behind the admin's login, which is allauth's with its second factor."""
    import time as clock

    from allauth.mfa.totp.internal.auth import (
        TOTP,
        format_hotp_value,
        generate_totp_secret,
        hotp_value,
    )

    boss = UserFactory(email="boss@example.com", verified=True, is_staff=True)
    secret = generate_totp_secret()
    TOTP.activate(boss, secret)
    url = reverse("staff:console")
    to_login = client.get(url)
    assert to_login.status_code == 302 and reverse("admin:login") in to_login["Location"]
    step = client.post(reverse("account_login"), {"login": boss.email, "password": password})
    assert step.status_code == 302 and step.url == reverse("mfa_authenticate")
    assert client.get(url).status_code == 302  # the password alone does not open it
    code = format_hotp_value(hotp_value(secret, int(clock.time()) // 30))
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    page = client.get(url)
    assert page.status_code == 200 and "Staff console" in page.content.decode()
