"""A small stand-in for Stripe's API on loopback: Checkout Sessions (payment and setup mode) and
their pages, customers, SetupIntents, payment methods, off-session PaymentIntents (honouring
the Idempotency-Key header as Stripe does: the same key answers the same response) and
invoices. Payment methods behave like Stripe's test ones: pm_card_visa is charged,
pm_card_chargeDeclined is declined, pm_card_authenticationRequired needs its owner."""

import json
import secrets
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

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
CARDS = {
    "pm_card_visa": ("visa", "4242"),
    "pm_card_chargeDeclined": ("visa", "0002"),
    "pm_card_authenticationRequired": ("visa", "3184"),
}


def reset() -> None:
    for store in (sessions, customers, setup_intents, intents, invoices, invoice_items, idempotent):
        store.clear()
    requests_seen.clear()
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


def mark_paid(session_id: str, **changes) -> dict:
    session = sessions[session_id]
    session.update(
        {
            "payment_status": "paid",
            "status": "complete",
            "payment_intent": session.get("payment_intent") or f"pi_{secrets.token_hex(8)}",
        }
    )
    if session.get("invoice_creation") and not session.get("invoice"):
        session["invoice"] = _invoice_for(session)["id"]
    session.update(changes)
    return session


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


async def create_session(request: Request):
    form = await _form(request)
    requests_seen.append(form)
    session_id = f"cs_test_{secrets.token_hex(12)}"
    base = str(request.base_url).rstrip("/")
    setup = form["mode"] == "setup"
    if setup and form.get("customer") not in customers:
        return _error(400, "A setup-mode session needs an existing customer.")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": form["mode"],
        "url": f"{base}/pay/{session_id}",
        "amount_total": None if setup else int(form["line_items[0][price_data][unit_amount]"]),
        "currency": form.get("currency") or form["line_items[0][price_data][currency]"],
        "customer": form.get("customer"),
        "setup_intent": None,
        "invoice": None,
        "invoice_creation": form.get("invoice_creation[enabled]") == "true",
        "invoice_metadata": {
            k[len("invoice_creation[invoice_data][metadata][") : -1]: v
            for k, v in form.items()
            if k.startswith("invoice_creation[invoice_data][metadata][")
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


async def pay_page(request: Request):
    session = sessions[request.path_params["session_id"]]
    if session["mode"] == "setup":
        return HTMLResponse(
            "<!doctype html><title>Stand-in card setup</title><h1>Save a card</h1>"
            '<form method="post"><button type="submit">Save card</button></form>'
        )
    amount = session["amount_total"] / 100
    return HTMLResponse(
        f"<!doctype html><title>Stand-in checkout</title><h1>Pay ${amount:.2f}</h1>"
        f'<form method="post"><button type="submit">Pay ${amount:.2f}</button></form>'
    )


async def pay(request: Request):
    session_id = request.path_params["session_id"]
    if sessions[session_id]["mode"] == "setup":
        session = mark_set_up(session_id)
    else:
        session = mark_paid(session_id)
    url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    return RedirectResponse(url, status_code=303)


async def create_customer(request: Request):
    form = await _form(request)
    requests_seen.append(form)
    key = request.headers.get("idempotency-key")
    if key and key in idempotent:
        return JSONResponse(idempotent[key][1], status_code=idempotent[key][0])
    customer_id = f"cus_{secrets.token_hex(8)}"
    customers[customer_id] = {"id": customer_id, "object": "customer", "email": form.get("email")}
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
