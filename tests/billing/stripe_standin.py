"""A small stand-in for Stripe's API on loopback: Checkout Sessions (payment and setup mode) and
their pages, customers, SetupIntents, payment methods, off-session PaymentIntents (honouring
the Idempotency-Key header as Stripe does: the same key answers the same response) and
invoices. Payment methods behave like Stripe's test ones: pm_card_visa is charged,
pm_card_chargeDeclined is declined, pm_card_authenticationRequired needs its owner.

Checkout's page offers the session's payment methods (card, Alipay, WeChat Pay), refusing, as
Stripe does, a method the currency does not allow and WeChat Pay without its ``client`` option.
What paying with each does is set per method in ``method_outcomes``: ``succeeded`` (paid at
once), ``processing`` (the customer is sent back, the session completed unpaid; a test then
settles it with ``async_outcome``) or ``failed`` (declined on the page; the session stays open).
Every change queues the events Stripe would send in ``outbox``; tests deliver them signed
(``tests.billing.webhooks.deliver_outbox``)."""

import json
import secrets
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from .webhooks import event

sessions: dict[str, dict] = {}
requests_seen: list[dict] = []
customers: dict[str, dict] = {}
setup_intents: dict[str, dict] = {}
intents: dict[str, dict] = {}
invoices: dict[str, dict] = {}
invoice_items: dict[str, dict] = {}
idempotent: dict[str, tuple[int, dict]] = {}  # Idempotency-Key → (status, body)
detached: set[str] = set()  # payment methods detached from their customer
deleted_customers: set[str] = set()
# The card the stand-in's setup page saves, and the status a good card's PaymentIntent gets
# ("succeeded" at once, or "processing": the webhook tells later). Tests may change both.
card_to_save = {"id": "pm_card_visa"}
charge_status = {"value": "succeeded"}
charges: dict[str, dict] = {}
outbox: list[dict] = []  # the events Stripe would deliver, in order
method_outcomes = {"card": "succeeded", "alipay": "succeeded", "wechat_pay": "succeeded"}
OUTCOMES = dict(method_outcomes)
# Stripe Checkout's currencies per wallet (cards take any).
METHOD_CURRENCIES = {
    "alipay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "myr", "nzd", "sgd", "usd"},
    "wechat_pay": {"aud", "cad", "chf", "cny", "dkk", "eur", "gbp", "hkd", "jpy", "nok", "sek",
                   "sgd", "usd"},
}  # fmt: skip
METHOD_LABELS = {"card": None, "alipay": "Pay with Alipay", "wechat_pay": "Pay with WeChat Pay"}
SYMBOLS = {"usd": "$", "hkd": "HK$", "cny": "¥"}
DECLINES = {
    "card": "Your card was declined.",
    "alipay": "The customer did not approve the payment in Alipay.",
    "wechat_pay": "The WeChat Pay QR code expired before the customer paid.",
}
CARDS = {
    "pm_card_visa": ("visa", "4242"),
    "pm_card_chargeDeclined": ("visa", "0002"),
    "pm_card_authenticationRequired": ("visa", "3184"),
}


def reset() -> None:
    for store in (
        sessions, customers, setup_intents, intents, invoices, invoice_items, idempotent, charges
    ):  # fmt: skip
        store.clear()
    requests_seen.clear()
    outbox.clear()
    method_outcomes.clear()
    method_outcomes.update(OUTCOMES)
    detached.clear()
    deleted_customers.clear()
    card_to_save["id"] = "pm_card_visa"
    charge_status["value"] = "succeeded"


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "message": message, **extra}},
        status_code=status,
    )


async def _form(request: Request) -> dict:
    return dict(parse_qsl((await request.body()).decode()))


def _invoice_for(session: dict) -> dict:
    invoice_id = f"in_{secrets.token_hex(10)}"
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "status": "paid",
        "amount_paid": session["amount_total"],
        "currency": session["currency"],
        "hosted_invoice_url": f"https://invoice.stripe.test/i/{invoice_id}",
        "invoice_pdf": f"https://pay.stripe.test/invoice/{invoice_id}/pdf",
        "metadata": session.get("invoice_metadata") or {},
    }
    invoices[invoice_id] = invoice
    return invoice


def _emit(kind: str, obj: dict) -> dict:
    queued = event(kind, json.loads(json.dumps(obj)))
    outbox.append(queued)
    return queued


def _intent_for(session: dict, method: str, status: str) -> dict:
    """The session's PaymentIntent (created on the first attempt to pay), now ``status``."""
    intent_id = session.get("payment_intent") or f"pi_{secrets.token_hex(8)}"
    session["payment_intent"] = intent_id
    intent = intents.setdefault(
        intent_id,
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": 0,
            "currency": session["currency"],
            "metadata": session.get("metadata") or {},
            "latest_charge": None,
            "last_payment_error": None,
        },
    )
    intent.update({"status": status, "payment_method_types": [method]})
    return intent


def _charge_for(session: dict, method: str) -> dict:
    intent = _intent_for(session, method, "succeeded")
    charge_id = f"ch_{secrets.token_hex(10)}"
    charge = {
        "id": charge_id,
        "object": "charge",
        "amount": session["amount_total"],
        "amount_refunded": 0,
        "currency": session["currency"],
        "paid": True,
        "status": "succeeded",
        "payment_intent": intent["id"],
        "payment_method_details": {"type": method, method: {}},
        "receipt_url": f"https://pay.stripe.test/receipts/{charge_id}",
        "refunds": {"object": "list", "data": []},
    }
    charges[charge_id] = charge
    intent["amount_received"], intent["latest_charge"] = intent["amount"], charge_id
    intent["last_payment_error"] = None
    return charge


def mark_paid(session_id: str, method: str = "card", **changes) -> dict:
    """The customer paid (at once, or an asynchronous payment went through): the session is
    paid, its PaymentIntent succeeded with a charge; queues charge.succeeded and the session's
    event (checkout.session.completed, or async_payment_succeeded after a delay)."""
    session = sessions[session_id]
    was_waiting = session["status"] == "complete" and session["payment_status"] == "unpaid"
    charge = _charge_for(session, method)
    session.update({"payment_status": "paid", "status": "complete"})
    if session.get("invoice_creation") and not session.get("invoice"):
        session["invoice"] = _invoice_for(session)["id"]
    session.update(changes)
    _emit("charge.succeeded", charge)
    _emit(
        "checkout.session.async_payment_succeeded" if was_waiting else "checkout.session.completed",
        session,
    )
    return session


def mark_processing(session_id: str, method: str) -> dict:
    """An asynchronous method accepted the payment for later: the customer is sent back, the
    session is complete but unpaid until ``async_outcome`` settles it."""
    session = sessions[session_id]
    _intent_for(session, method, "processing")
    session.update({"status": "complete", "payment_status": "unpaid"})
    _emit("checkout.session.completed", session)
    return session


def mark_declined(session_id: str, method: str) -> dict:
    """Declined on Checkout's page: the session stays open (the customer may try again)."""
    session = sessions[session_id]
    intent = _intent_for(session, method, "requires_payment_method")
    intent["last_payment_error"] = {
        "type": "card_error" if method == "card" else "invalid_request_error",
        "code": "card_declined" if method == "card" else "payment_method_provider_decline",
        "message": DECLINES[method],
        "payment_method": {"type": method},
    }
    _emit("payment_intent.payment_failed", intent)
    return intent


def async_outcome(session_id: str, *, succeeded: bool, reason: str | None = None) -> dict:
    """Settle a session left processing: paid (``async_payment_succeeded``) or failed
    (``async_payment_failed``, the PaymentIntent saying why)."""
    session = sessions[session_id]
    intent = intents[session["payment_intent"]]
    method = intent["payment_method_types"][0]
    if succeeded:
        return mark_paid(session_id, method)
    intent.update(
        {
            "status": "requires_payment_method",
            "last_payment_error": {
                "type": "invalid_request_error",
                "code": "payment_method_provider_decline",
                "message": reason or DECLINES[method],
                "payment_method": {"type": method},
            },
        }
    )
    _emit("payment_intent.payment_failed", intent)
    _emit("checkout.session.async_payment_failed", session)
    return session


def refund(payment_intent_id: str, amount: int | None = None) -> dict:
    """Refund (part of) the PaymentIntent's charge in its own currency: charge.refunded."""
    charge = charges[intents[payment_intent_id]["latest_charge"]]
    amount = charge["amount"] - charge["amount_refunded"] if amount is None else amount
    charge["refunds"]["data"].append(
        {"id": f"re_{secrets.token_hex(8)}", "object": "refund", "amount": amount,
         "currency": charge["currency"], "status": "succeeded"}
    )  # fmt: skip
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    _emit("charge.refunded", charge)
    return charge


def mark_set_up(session_id: str, payment_method: str | None = None) -> dict:
    """The customer saved a card on the setup page: a succeeded SetupIntent."""
    session = sessions[session_id]
    intent_id = f"seti_{secrets.token_hex(10)}"
    setup_intents[intent_id] = {
        "id": intent_id,
        "object": "setup_intent",
        "status": "succeeded",
        "usage": "off_session",
        "customer": session.get("customer"),
        "payment_method": payment_method or card_to_save["id"],
        "metadata": session.get("setup_metadata") or {},
    }
    session.update({"status": "complete", "setup_intent": intent_id})
    return session


def _methods_refused(form: dict, currency: str, setup: bool) -> str | None:
    """Stripe's refusals: a wallet in a currency it does not take, WeChat Pay without its
    client, either of them in setup mode."""
    methods = [v for k, v in sorted(form.items()) if k.startswith("payment_method_types[")]
    for method in methods:
        if method == "card":
            continue
        if method not in METHOD_CURRENCIES:
            return f"Invalid payment_method_types: {method}"
        if setup:
            return f"The payment method type {method} is not supported in setup mode."
        if currency not in METHOD_CURRENCIES[method]:
            return f"The payment method type {method} does not support the currency {currency}."
    if "wechat_pay" in methods and form.get("payment_method_options[wechat_pay][client]") != "web":
        return "payment_method_options[wechat_pay][client] is required for wechat_pay."
    return None


async def create_session(request: Request):
    form = await _form(request)
    requests_seen.append(form)
    session_id = f"cs_test_{secrets.token_hex(12)}"
    base = str(request.base_url).rstrip("/")
    setup = form["mode"] == "setup"
    if setup and form.get("customer") not in customers:
        return _error(400, "A setup-mode session needs an existing customer.")
    currency = form.get("currency") or form["line_items[0][price_data][currency]"]
    refused = _methods_refused(form, currency, setup)
    if refused:
        return _error(400, refused, param="payment_method_types")
    methods = [v for k, v in sorted(form.items()) if k.startswith("payment_method_types[")]
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": form["mode"],
        "url": f"{base}/pay/{session_id}",
        "amount_total": None if setup else int(form["line_items[0][price_data][unit_amount]"]),
        "currency": currency,
        "payment_method_types": methods or ["card"],
        "locale": form.get("locale"),
        "customer": form.get("customer"),
        "setup_intent": None,
        "invoice": None,
        "invoice_creation": form.get("invoice_creation[enabled]") == "true",
        "invoice_metadata": {
            k[len("invoice_creation[invoice_data][metadata][") : -1]: v
            for k, v in form.items()
            if k.startswith("invoice_creation[invoice_data][metadata][")
        },
        "invoice_description": form.get("invoice_creation[invoice_data][description]"),
        "invoice_custom_fields": {
            form[k]: form.get(k.replace("[name]", "[value]"))
            for k in form
            if k.startswith("invoice_creation[invoice_data][custom_fields][")
            and k.endswith("[name]")
        },
        "setup_metadata": {
            k[len("setup_intent_data[metadata][") : -1]: v
            for k, v in form.items()
            if k.startswith("setup_intent_data[metadata][")
        },
        "client_reference_id": form.get("client_reference_id"),
        "customer_email": form.get("customer_email"),
        "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
        "payment_status": "unpaid",
        "status": "open",
        "payment_intent": None,
        "success_url": form["success_url"],
        "cancel_url": form["cancel_url"],
    }
    sessions[session_id] = session
    return JSONResponse(session)


async def get_session(request: Request):
    session = sessions.get(request.path_params["session_id"])
    if session is None:
        return JSONResponse(
            {"error": {"type": "invalid_request_error", "message": "No such session"}},
            status_code=404,
        )
    return JSONResponse(session)


def _price(session: dict) -> str:
    units, cents = divmod(session["amount_total"], 100)
    symbol = SYMBOLS.get(session["currency"], session["currency"].upper() + " ")
    return f"{symbol}{units:,}.{cents:02d}"


async def pay_page(request: Request, error: str = ""):
    session = sessions[request.path_params["session_id"]]
    if session["mode"] == "setup":
        return HTMLResponse(
            "<!doctype html><title>Stand-in card setup</title><h1>Save a card</h1>"
            '<form method="post"><button type="submit">Save card</button></form>'
        )
    price = _price(session)
    buttons = "".join(
        f'<form method="post"><input type="hidden" name="method" value="{method}">'
        f'<button type="submit">{METHOD_LABELS.get(method) or f"Pay {price}"}</button></form>'
        for method in session["payment_method_types"]
    )
    alert = f'<p role="alert">{error}</p>' if error else ""
    return HTMLResponse(
        f"<!doctype html><title>Stand-in checkout</title><h1>Pay {price}</h1>{alert}{buttons}"
        f'<a href="{session["cancel_url"]}">Back</a>'
    )


async def pay(request: Request):
    session_id = request.path_params["session_id"]
    session = sessions[session_id]
    if session["mode"] == "setup":
        session = mark_set_up(session_id)
    else:
        method = (await _form(request)).get("method") or "card"
        if method not in session["payment_method_types"]:
            return _error(400, f"{method} is not offered by this session")
        outcome = method_outcomes.get(method, "succeeded")
        if outcome == "failed":
            intent = mark_declined(session_id, method)
            return await pay_page(request, error=intent["last_payment_error"]["message"])
        if outcome == "processing":
            session = mark_processing(session_id, method)
        else:
            session = mark_paid(session_id, method)
    url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    return RedirectResponse(url, status_code=303)


async def create_customer(request: Request):
    form = await _form(request)
    requests_seen.append(form)
    key = request.headers.get("idempotency-key")
    if key and key in idempotent:
        return JSONResponse(idempotent[key][1], status_code=idempotent[key][0])
    customer_id = f"cus_{secrets.token_hex(8)}"
    customers[customer_id] = {
        "id": customer_id,
        "object": "customer",
        "email": form.get("email"),
        "preferred_locales": [v for k, v in form.items() if k.startswith("preferred_locales[")],
    }
    if key:
        idempotent[key] = (200, customers[customer_id])
    return JSONResponse(customers[customer_id])


async def delete_customer(request: Request):
    customer_id = request.path_params["id"]
    if customer_id not in customers:
        return _error(404, f"No such customer: '{customer_id}'")
    del customers[customer_id]
    deleted_customers.add(customer_id)
    return JSONResponse({"id": customer_id, "object": "customer", "deleted": True})


async def detach_payment_method(request: Request):
    method_id = request.path_params["id"]
    if method_id not in CARDS:
        return _error(404, f"No such PaymentMethod: '{method_id}'")
    if method_id in detached:
        return _error(400, "The payment method you provided is not attached to a customer")
    detached.add(method_id)
    brand, last4 = CARDS[method_id]
    return JSONResponse(
        {"id": method_id, "object": "payment_method", "type": "card", "customer": None,
         "card": {"brand": brand, "last4": last4}}
    )  # fmt: skip


def _getter(store: dict, name: str):
    async def get(request: Request):
        obj = store.get(request.path_params["id"])
        return JSONResponse(obj) if obj else _error(404, f"No such {name}")

    return get


async def get_payment_method(request: Request):
    method_id = request.path_params["id"]
    if method_id not in CARDS:
        return _error(404, "No such payment_method")
    brand, last4 = CARDS[method_id]
    return JSONResponse(
        {"id": method_id, "object": "payment_method", "type": "card",
         "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}
    )  # fmt: skip


def _charge(form: dict) -> tuple[int, dict]:
    method = form.get("payment_method")
    if form.get("customer") not in customers or method not in CARDS or method in detached:
        return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
    intent_id = f"pi_{secrets.token_hex(10)}"
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": int(form["amount"]),
        "amount_received": 0,
        "currency": form["currency"],
        "customer": form["customer"],
        "payment_method": method,
        "off_session": form.get("off_session") == "true",
        "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
        "status": "requires_payment_method",
        "latest_charge": None,
    }
    intents[intent_id] = intent
    if method == "pm_card_visa" and charge_status["value"] == "processing":
        intent["status"] = "processing"
        return 200, intent
    if method == "pm_card_visa":
        intent.update(
            {"status": "succeeded", "amount_received": intent["amount"],
             "latest_charge": f"ch_{secrets.token_hex(10)}"}
        )  # fmt: skip
        return 200, intent
    code, message = (
        ("card_declined", "Your card was declined.")
        if method == "pm_card_chargeDeclined"
        else (
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        )
    )
    error = {"type": "card_error", "code": code, "message": message, "payment_intent": intent}
    return 402, {"error": error}


async def create_payment_intent(request: Request):
    """Stripe's idempotency: a key seen before answers its first response again."""
    form = await _form(request)
    requests_seen.append(form)
    key = request.headers.get("idempotency-key")
    if key and key in idempotent:
        status, body = idempotent[key]
        return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
    status, body = _charge(form)
    if key:
        idempotent[key] = (status, body)
    return JSONResponse(body, status_code=status)


def _idempotent(handler):
    """Stripe's idempotency for any POST: a key seen before answers its first response."""

    async def post(request: Request):
        form = await _form(request)
        requests_seen.append(form)
        key = request.headers.get("idempotency-key")
        if key and key in idempotent:
            status, body = idempotent[key]
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        status, body = handler(request, form)
        if key:
            idempotent[key] = (status, body)
        return JSONResponse(body, status_code=status)

    return post


def _metadata(form: dict) -> dict:
    return {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}


def _create_invoice_item(request: Request, form: dict) -> tuple[int, dict]:
    if form.get("customer") not in customers:
        return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
    item_id = f"ii_{secrets.token_hex(8)}"
    invoice_items[item_id] = {
        "id": item_id,
        "object": "invoiceitem",
        "customer": form["customer"],
        "amount": int(form["amount"]),
        "currency": form["currency"],
        "description": form.get("description", ""),
        "invoice": None,
        "metadata": _metadata(form),
    }
    return 200, invoice_items[item_id]


def _create_invoice(request: Request, form: dict) -> tuple[int, dict]:
    customer = form.get("customer")
    if customer not in customers:
        return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
    invoice_id = f"in_{secrets.token_hex(10)}"
    lines = []
    if form.get("pending_invoice_items_behavior") == "include":
        for item in invoice_items.values():
            if item["customer"] == customer and item["invoice"] is None:
                item["invoice"] = invoice_id
                lines.append(item)
    invoices[invoice_id] = {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": "draft",
        "currency": form.get("currency", "usd"),
        "amount_due": sum(item["amount"] for item in lines),
        "amount_paid": 0,
        "lines": {"object": "list", "data": lines},
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "metadata": _metadata(form),
    }
    return 200, invoices[invoice_id]


def _finalize_invoice(request: Request, form: dict) -> tuple[int, dict]:
    invoice = invoices.get(request.path_params["id"])
    if invoice is None or invoice["status"] != "draft":
        return 400, {"error": {"type": "invalid_request_error", "message": "Not a draft invoice"}}
    invoice["status"] = "open" if invoice["amount_due"] else "paid"
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.test/i/{invoice['id']}"
    invoice["invoice_pdf"] = f"https://pay.stripe.test/invoice/{invoice['id']}/pdf"
    return 200, invoice


def _pay_invoice(request: Request, form: dict) -> tuple[int, dict]:
    invoice = invoices.get(request.path_params["id"])
    if invoice is None or invoice["status"] != "open":
        return 400, {"error": {"type": "invalid_request_error", "message": "Not an open invoice"}}
    if form.get("paid_out_of_band") != "true":
        return 400, {"error": {"type": "invalid_request_error", "message": "Only out of band"}}
    invoice.update({"status": "paid", "amount_paid": invoice["amount_due"]})
    return 200, invoice


app = Starlette(
    routes=[
        Route("/v1/customers", create_customer, methods=["POST"]),
        Route("/v1/customers/{id}", delete_customer, methods=["DELETE"]),
        Route("/v1/payment_methods/{id}/detach", detach_payment_method, methods=["POST"]),
        Route("/v1/setup_intents/{id}", _getter(setup_intents, "setup_intent"), methods=["GET"]),
        Route("/v1/payment_methods/{id}", get_payment_method, methods=["GET"]),
        Route("/v1/payment_intents", create_payment_intent, methods=["POST"]),
        Route("/v1/payment_intents/{id}", _getter(intents, "payment_intent"), methods=["GET"]),
        Route("/v1/invoices/{id}", _getter(invoices, "invoice"), methods=["GET"]),
        Route("/v1/invoiceitems", _idempotent(_create_invoice_item), methods=["POST"]),
        Route("/v1/invoices", _idempotent(_create_invoice), methods=["POST"]),
        Route("/v1/invoices/{id}/finalize", _idempotent(_finalize_invoice), methods=["POST"]),
        Route("/v1/invoices/{id}/pay", _idempotent(_pay_invoice), methods=["POST"]),
        Route("/v1/checkout/sessions", create_session, methods=["POST"]),
        Route("/v1/checkout/sessions/{session_id}", get_session, methods=["GET"]),
        Route("/pay/{session_id}", pay_page, methods=["GET"]),
        Route("/pay/{session_id}", pay, methods=["POST"]),
    ]
)


def dumps(obj) -> str:
    return json.dumps(obj)


def succeed(intent_id: str) -> dict:
    """A processing PaymentIntent went through (what payment_intent.succeeded then carries)."""
    intent = intents[intent_id]
    intent.update(
        {"status": "succeeded", "amount_received": intent["amount"],
         "latest_charge": f"ch_{secrets.token_hex(10)}"}
    )  # fmt: skip
    return intent
