"""Redemption codes: staff create a batch in the admin (its codes downloaded once as CSV, stored
as digests), users redeem on the billing page: credited exactly once, also under 50 concurrent
attempts with one code (PostgreSQL, threads), with clear refusals, failed attempts limited per
account and per address, and batches that can be voided."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.billing import redemption
from apps.billing.models import RedemptionBatch, RedemptionCode
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.factories import UserFactory
from tests.threads import run_concurrently

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")
REDEEM = reverse("billing:redeem")


def balance(user) -> int:
    account = Account.objects.filter(user=user).first()
    return account.balance if account else 0


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    return client


def create_batch(staff_client, **fields) -> tuple[RedemptionBatch, list[dict]]:
    """Through the admin's add page: the response is the CSV of the codes."""
    page = staff_client.get(reverse("admin:billing_redemptionbatch_add"))
    token = page.context["form"]["token"].value()
    data = {"count": "3", "credits": "250", "reseller": "Shop HK", "note": "", "token": token}
    data.update(fields)
    response = staff_client.post(reverse("admin:billing_redemptionbatch_add"), data)
    assert response.status_code == 200, response.content.decode()[-3000:]
    assert response["Content-Type"].startswith("text/csv")
    batch = RedemptionBatch.objects.latest("id")
    assert f'filename="redemption-batch-{batch.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    return batch, rows


def redeem(client, code, ip="198.51.100.1"):
    return client.post(REDEEM, {"code": code}, REMOTE_ADDR=ip)


# --- the format -------------------------------------------------------------------------------


def test_codes_are_long_random_and_checksummed():
    codes = {redemption.code_generate() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert code.startswith("ocx-redeem-") and len(code) == 41
        assert redemption.code_well_formed(code)
    code = codes.pop()
    body = code[len("ocx-redeem-") :]
    typo = "ocx-redeem-" + ("b" if body[0] == "a" else "a") + body[1:]
    assert not redemption.code_well_formed(typo)  # one character off: the checksum says so
    assert not redemption.code_well_formed(code[:-1])
    assert not redemption.code_well_formed("sk-live-" + body)


# --- staff: batches ---------------------------------------------------------------------------


def test_staff_create_a_batch_and_get_its_codes_once_as_csv(staff_client):
    expires = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    batch, rows = create_batch(staff_client, count="5", expires_at=expires, one_per_account="on")
    assert len(rows) == 5 and batch.count == 5
    assert batch.credits_each == 250 * MICRO and batch.one_per_account
    assert batch.reseller == "Shop HK" and batch.expires_at is not None
    assert {row["credits"] for row in rows} == {"250.0000"}
    assert {row["reseller"] for row in rows} == {"Shop HK"}
    codes = [row["code"] for row in rows]
    assert all(redemption.code_well_formed(code) for code in codes)
    # Stored as digests: no column of any code row holds a code.
    stored = list(RedemptionCode.objects.filter(batch=batch).values())
    assert len(stored) == 5
    dumped = repr(stored)
    assert not any(code in dumped or code[len("ocx-redeem-") :] in dumped for code in codes)
    assert {row["digest"] for row in stored} == {redemption.code_digest(c) for c in codes}
    # The batch's pages never show them again.
    change = staff_client.get(reverse("admin:billing_redemptionbatch_change", args=[batch.pk]))
    assert change.status_code == 200
    assert not any(code in change.content.decode() for code in codes)
    changelist = staff_client.get(reverse("admin:billing_redemptionbatch_changelist"))
    assert changelist.status_code == 200 and "Shop HK" in changelist.content.decode()


def test_submitting_the_same_form_twice_creates_one_batch(staff_client):
    page = staff_client.get(reverse("admin:billing_redemptionbatch_add"))
    token = page.context["form"]["token"].value()
    data = {"count": "2", "credits": "10", "token": token}
    first = staff_client.post(reverse("admin:billing_redemptionbatch_add"), data)
    assert first["Content-Type"].startswith("text/csv")
    again = staff_client.post(reverse("admin:billing_redemptionbatch_add"), data)
    assert "submitted already" in again.content.decode()
    assert RedemptionBatch.objects.count() == 1 and RedemptionCode.objects.count() == 2


def test_batch_form_validation(staff_client):
    url = reverse("admin:billing_redemptionbatch_add")
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    for data, error in [
        ({"count": "0", "credits": "10"}, "greater than or equal to 1"),
        ({"count": "10001", "credits": "10"}, "At most 10,000 codes"),
        ({"count": "1", "credits": "0"}, "greater than or equal to"),
        ({"count": "1", "credits": "10", "expires_at": past}, "must be in the future"),
    ]:
        response = staff_client.post(url, {**data, "token": "7c4a2f0e-2b7a-4b43-9d5e-3f1c1e0b9a11"})
        assert response.status_code == 200 and error in response.content.decode(), error
    assert not RedemptionBatch.objects.exists()


def test_outsiders_cannot_create_batches(owner_client):
    response = owner_client.get(reverse("admin:billing_redemptionbatch_add"))
    assert response.status_code == 302  # to the admin's login


# --- users: redeeming -------------------------------------------------------------------------


def test_a_user_redeems_a_code_once_with_a_ledger_entry_naming_the_batch(
    staff_client, owner_client, owner
):
    batch, rows = create_batch(staff_client)
    response = redeem(owner_client, f"  {rows[0]['code']} \n")
    assert response.status_code == 302
    page = owner_client.get(BILLING).content.decode()
    assert "Code redeemed: 250.00 credits were added to your balance." in page
    assert balance(owner) == 250 * MICRO
    entry = LedgerEntry.objects.get(account__user=owner)
    code = RedemptionCode.objects.get(digest=redemption.code_digest(rows[0]["code"]))
    assert (entry.kind, entry.reference) == ("redemption", f"redeem:{code.pk}")
    assert entry.memo == f"Redemption code …{code.last4}, batch {batch.pk} (Shop HK)"
    assert code.redeemed_by == owner and code.redeemed_at is not None
    again = redeem(owner_client, rows[0]["code"])
    assert again.status_code == 400
    assert "You have already redeemed this code." in again.content.decode()
    assert balance(owner) == 250 * MICRO
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    assert "Redemption code" in dashboard
    assert ledger_problems() == []


def test_redemption_credits_do_not_touch_the_signup_grant_or_the_budget(
    staff_client, owner_client, owner
):
    _, rows = create_batch(staff_client)
    redeem(owner_client, rows[0]["code"])
    assert credits.credits_grant_signup(user_id=owner.pk) is not None  # still due: 500 credits
    account = Account.objects.get(user=owner)
    assert account.balance == 750 * MICRO and account.month_spent == 0
    assert set(LedgerEntry.objects.values_list("kind", flat=True)) == {
        "redemption",
        "signup_grant",
    }
    assert not LedgerEntry.objects.filter(kind__in=["topup", "adjustment"]).exists()
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown", "This code does not exist."),
        ("malformed", "That is not a redemption code"),
        ("used", "This code has already been used."),
        ("expired", "This code has expired."),
        ("voided", "This code has been withdrawn and can no longer be redeemed."),
        ("once", "You have already redeemed a code of this batch: one per account."),
    ],
)
def test_clear_errors_for_codes_that_cannot_be_redeemed(
    staff_client, owner_client, owner, outsider, case, message
):
    batch, rows = create_batch(staff_client, one_per_account="on" if case == "once" else "")
    code = rows[0]["code"]
    if case == "unknown":
        code = redemption.code_generate()
    elif case == "malformed":
        code = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    elif case == "used":
        redemption.redemption_redeem(user_id=outsider.pk, code=code, ip=None)
    elif case == "expired":
        RedemptionBatch.objects.filter(pk=batch.pk).update(expires_at=timezone.now())
    elif case == "voided":
        redemption.redemption_batch_void(batch_id=batch.pk, actor_id=None)
    elif case == "once":
        assert redeem(owner_client, rows[1]["code"]).status_code == 302
    before = balance(owner)
    response = redeem(owner_client, code)
    body = response.content.decode()
    assert response.status_code == 400 and message in body
    assert 'id="id_code"' in body and "errorlist" in body
    assert balance(owner) == before
    assert ledger_problems() == []


def test_voiding_a_batch_in_the_admin_stops_its_unredeemed_codes(
    staff_client, owner_client, owner, outsider
):
    batch, rows = create_batch(staff_client, count="2")
    assert redeem(owner_client, rows[0]["code"]).status_code == 302
    response = staff_client.post(
        reverse("admin:billing_redemptionbatch_changelist"),
        {"action": "void_selected", "_selected_action": [batch.pk]},
        follow=True,
    )
    assert "1 unredeemed code(s) no longer work" in response.content.decode()
    batch.refresh_from_db()
    assert batch.voided_at is not None
    other = Client()
    other.force_login(outsider)
    refused = redeem(other, rows[1]["code"])
    assert refused.status_code == 400 and "withdrawn" in refused.content.decode()
    assert balance(owner) == 250 * MICRO  # what was redeemed stays
    assert balance(outsider) == 0


def test_staff_find_a_code_by_pasting_it(staff_client, owner_client):
    _, rows = create_batch(staff_client)
    redeem(owner_client, rows[1]["code"])
    url = reverse("admin:billing_redemptioncode_changelist")
    found = staff_client.get(url, {"q": rows[1]["code"]}).content.decode()
    assert "owner@example.com" in found and "1 result" in found


def test_redeeming_needs_a_signed_in_user(client, staff_client):
    _, rows = create_batch(staff_client)
    response = client.post(REDEEM, {"code": rows[0]["code"]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not LedgerEntry.objects.exists()


# --- no guessing ------------------------------------------------------------------------------


def test_a_thousand_wrong_codes_from_one_address_are_stopped(settings, staff_client):
    settings.REDEEM_FAILURES_PER_IP, settings.REDEEM_FAILURES_PER_ACCOUNT = 30, 10
    _, rows = create_batch(staff_client, count="1")
    clients = []
    for _ in range(20):  # spread over accounts: the address is what stops them
        client = Client()
        client.force_login(UserFactory(verified=True))
        clients.append(client)
    statuses = []
    for i in range(1000):
        wrong = redemption.code_generate() if i % 2 else "ocx-redeem-guess" + str(i)
        statuses.append(redeem(clients[i % 20], wrong, ip="203.0.113.9").status_code)
    assert statuses.count(400) == 30 and statuses.count(429) == 970
    assert statuses[:30] == [400] * 30
    # Even the right code is refused from that address now, unseen.
    fresh = Client()
    fresh_user = UserFactory(verified=True)
    fresh.force_login(fresh_user)
    stopped = redeem(fresh, rows[0]["code"], ip="203.0.113.9")
    assert stopped.status_code == 429
    assert "Too many attempts" in stopped.content.decode()
    assert not LedgerEntry.objects.exists()
    # From another address it works.
    assert redeem(fresh, rows[0]["code"], ip="203.0.113.10").status_code == 302
    assert balance(fresh_user) == 250 * MICRO


def test_wrong_codes_are_limited_per_account_across_addresses(settings, staff_client, owner_client):
    settings.REDEEM_FAILURES_PER_ACCOUNT = 10
    _, rows = create_batch(staff_client, count="1")
    statuses = [
        redeem(owner_client, redemption.code_generate(), ip=f"192.0.2.{i}").status_code
        for i in range(15)
    ]
    assert statuses == [400] * 10 + [429] * 5
    assert redeem(owner_client, rows[0]["code"], ip="192.0.2.99").status_code == 429
    assert not LedgerEntry.objects.exists()


def test_successful_redemptions_do_not_count_against_the_limit(settings, staff_client, owner):
    settings.REDEEM_FAILURES_PER_ACCOUNT = 2
    _, rows = create_batch(staff_client, count="5", credits="1")
    client = Client()
    client.force_login(owner)
    assert [redeem(client, row["code"]).status_code for row in rows] == [302] * 5
    assert balance(owner) == 5 * MICRO


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_attempts_with_one_code_credit_it_once(staff_client):
    _, rows = create_batch(staff_client, count="1", credits="100")
    code = rows[0]["code"]
    users = [UserFactory(verified=True) for _ in range(50)]

    def attempt(i):
        client = Client()
        client.force_login(users[i])
        try:
            response = redeem(client, code, ip=f"10.0.{i // 200}.{i % 200}")
            return response.status_code, response.content.decode()
        finally:
            connection.close()

    results = run_concurrently(attempt, 50)
    statuses = [r[0] for r in results if isinstance(r, tuple)]
    assert statuses.count(302) == 1, [r if not isinstance(r, tuple) else r[0] for r in results]
    assert statuses.count(400) == 49
    assert all("This code has already been used." in body for s, body in results if s == 400)
    assert LedgerEntry.objects.filter(kind="redemption").count() == 1
    assert sum(Account.objects.values_list("balance", flat=True)) == 100 * MICRO
    assert ledger_problems() == []


@pytest.mark.django_db(transaction=True)
def test_one_per_account_holds_when_one_account_redeems_many_codes_at_once(staff_client, owner):
    _, rows = create_batch(staff_client, count="20", credits="5", one_per_account="on")

    def attempt(i):
        try:
            return redemption.redemption_redeem(user_id=owner.pk, code=rows[i]["code"], ip=None)
        finally:
            connection.close()

    results = run_concurrently(attempt, 20)
    assert sum(isinstance(r, RedemptionCode) for r in results) == 1
    refused = [r for r in results if isinstance(r, redemption.RedemptionRefused)]
    assert {r.reason for r in refused} <= {"once", "rate_limited"} and len(refused) == 19
    assert balance(owner) == 5 * MICRO
    assert ledger_problems() == []
