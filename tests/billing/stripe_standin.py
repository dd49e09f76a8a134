"""A small stand-in for Stripe's API on loopback: Checkout Sessions and a checkout page."""

import json
import secrets
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

sessions: dict[str, dict] = {}
requests_seen: list[dict] = []


def mark_paid(session_id: str, **changes) -> dict:
    session = sessions[session_id]
    session.update(
        {
            "payment_status": "paid",
            "status": "complete",
            "payment_intent": session.get("payment_intent") or f"pi_{secrets.token_hex(8)}",
        }
    )
    session.update(changes)
    return session


async def create_session(request: Request):
    form = dict(parse_qsl((await request.body()).decode()))
    requests_seen.append(form)
    session_id = f"cs_test_{secrets.token_hex(12)}"
    base = str(request.base_url).rstrip("/")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": form["mode"],
        "url": f"{base}/pay/{session_id}",
        "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
        "currency": form["line_items[0][price_data][currency]"],
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
    amount = session["amount_total"] / 100
    return HTMLResponse(
        f"<!doctype html><title>Stand-in checkout</title><h1>Pay ${amount:.2f}</h1>"
        f'<form method="post"><button type="submit">Pay ${amount:.2f}</button></form>'
    )


async def pay(request: Request):
    session = mark_paid(request.path_params["session_id"])
    url = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    return RedirectResponse(url, status_code=303)


app = Starlette(
    routes=[
        Route("/v1/checkout/sessions", create_session, methods=["POST"]),
        Route("/v1/checkout/sessions/{session_id}", get_session, methods=["GET"]),
        Route("/pay/{session_id}", pay_page, methods=["GET"]),
        Route("/pay/{session_id}", pay, methods=["POST"]),
    ]
)


def dumps(obj) -> str:
    return json.dumps(obj)
