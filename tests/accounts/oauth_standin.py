"""A small stand-in for GitHub's and Google's OAuth servers on loopback, for signing in with them
where no real provider is reachable.

It answers the endpoints allauth's github and google providers call: the authorize page (which
approves at once and sends the browser back with a code, as a provider does for someone already
signed in there who approved the app before), the token endpoint (checking the client id and
secret, the one-time code and the redirect URI), GitHub's ``/user`` and ``/user/emails``, and
Google's token answer with an ``id_token`` (the claims allauth reads: ``sub``, ``email``,
``email_verified``, ``name``; issuer and audience as Google's). Who is signed in at the
provider is ``identities[provider]``; tests change it. ``point_at`` points the providers' URLs
here (they are class attributes of allauth's adapters, read when the module is imported).
"""

import secrets
import time
from urllib.parse import parse_qsl, urlencode

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

CLIENTS = {
    "github": ("gh-client-id", "gh-client-secret"),
    "google": ("google-client-id.apps.googleusercontent.com", "google-client-secret"),
}
GOOGLE_ISSUER = "https://accounts.google.com"
SIGNING_KEY = "a stand-in signing key: allauth does not check it"  # fetched by TLS, it says


def environ() -> dict:
    """The environment that turns both providers on with the stand-in's clients."""
    return {
        "GITHUB_CLIENT_ID": CLIENTS["github"][0],
        "GITHUB_CLIENT_SECRET": CLIENTS["github"][1],
        "GOOGLE_CLIENT_ID": CLIENTS["google"][0],
        "GOOGLE_CLIENT_SECRET": CLIENTS["google"][1],
    }


def github_identity(email="octo@example.com", verified=True, uid=4242, name="Octo Cat"):
    return {
        "profile": {"id": uid, "login": "octocat", "name": name, "email": email},
        "emails": [{"email": email, "primary": True, "verified": verified, "visibility": None}],
    }


def google_identity(email="person@example.com", verified=True, sub="10987654321", name="Pat Lee"):
    given, _, family = name.partition(" ")
    return {
        "sub": sub,
        "email": email,
        "email_verified": verified,
        "name": name,
        "given_name": given,
        "family_name": family,
    }


class OAuthStandIn:
    def __init__(self):
        self.identities = {"github": github_identity(), "google": google_identity()}
        self.codes: dict[str, dict] = {}  # code → {provider, redirect_uri, identity}
        self.tokens: dict[str, dict] = {}  # access token → identity
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.app = Starlette(
            routes=[
                Route("/github/login/oauth/authorize", self.authorize("github")),
                Route("/github/login/oauth/access_token", self.token("github"), methods=["POST"]),
                Route("/github/api/user", self.github_user),
                Route("/github/api/user/emails", self.github_emails),
                Route("/google/o/oauth2/v2/auth", self.authorize("google")),
                Route("/google/token", self.token("google"), methods=["POST"]),
            ]
        )

    def point_at(self, monkeypatch, base_url: str) -> None:
        from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
        from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter

        github = f"{base_url}/github"
        monkeypatch.setattr(GitHubOAuth2Adapter, "authorize_url", f"{github}/login/oauth/authorize")
        monkeypatch.setattr(
            GitHubOAuth2Adapter, "access_token_url", f"{github}/login/oauth/access_token"
        )
        monkeypatch.setattr(GitHubOAuth2Adapter, "profile_url", f"{github}/api/user")
        monkeypatch.setattr(GitHubOAuth2Adapter, "emails_url", f"{github}/api/user/emails")
        google = f"{base_url}/google"
        monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{google}/o/oauth2/v2/auth")
        monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{google}/token")

    def authorize(self, provider: str):
        async def view(request: Request):
            params = dict(request.query_params)
            self.authorize_requests.append({"provider": provider, **params})
            if params.get("client_id") != CLIENTS[provider][0]:
                return PlainTextResponse("unknown client_id", status_code=400)
            if params.get("response_type", "code") != "code" or not params.get("redirect_uri"):
                return PlainTextResponse("bad request", status_code=400)
            code = secrets.token_urlsafe(12)
            self.codes[code] = {
                "provider": provider,
                "redirect_uri": params["redirect_uri"],
                "identity": self.identities[provider],
            }
            query = urlencode({"code": code, "state": params.get("state", "")})
            return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

        return view

    def token(self, provider: str):
        async def view(request: Request):
            form = dict(parse_qsl((await request.body()).decode()))
            self.token_requests.append({"provider": provider, **form})
            client_id, secret = CLIENTS[provider]
            if form.get("client_id") != client_id or form.get("client_secret") != secret:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if not grant or grant["provider"] != provider:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return JSONResponse({"error": "redirect_uri_mismatch"}, status_code=400)
            access_token = secrets.token_urlsafe(16)
            self.tokens[access_token] = grant["identity"]
            answer = {"access_token": access_token, "token_type": "bearer", "scope": "user:email"}
            if provider == "google":
                now = int(time.time())
                claims = {
                    "iss": GOOGLE_ISSUER,
                    "aud": client_id,
                    "iat": now,
                    "exp": now + 3600,
                    **grant["identity"],
                }
                answer["id_token"] = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
                answer["expires_in"] = 3599
            return JSONResponse(answer)

        return view

    def identity_for(self, request: Request) -> dict | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.tokens.get(token) if scheme.lower() in {"token", "bearer"} else None

    async def github_user(self, request: Request):
        identity = self.identity_for(request)
        if identity is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse(identity["profile"])

    async def github_emails(self, request: Request):
        identity = self.identity_for(request)
        if identity is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse(identity["emails"])
