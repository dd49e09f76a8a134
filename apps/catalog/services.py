"""Loading the catalog file into the database."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from .guard import PRICE_FIELDS, PriceDiff, price_diffs
from .models import Deployment, Model, PriceChange, Provider
from .pricing import dollars_per_million_to_micro


class CatalogError(ValueError):
    pass


@dataclass
class SyncReport:
    providers: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    prices: list[PriceDiff] = field(default_factory=list)  # every price that changes
    applied: bool = True  # False: a dry run, or refused

    @property
    def refused(self) -> list[PriceDiff]:
        return [d for d in self.prices if d.refused]


class PriceGuardError(CatalogError):
    """Price changes the guard rails refuse; nothing was written."""

    def __init__(self, report: SyncReport):
        self.report = report
        lines = "\n".join(f"  {d}" for d in report.refused)
        super().__init__(
            f"{len(report.refused)} price change(s) refused (apply them with --force after "
            f"checking):\n{lines}"
        )


def _require(entry: dict, name: str, kind, where: str):
    value = entry.get(name)
    if value is None:
        raise CatalogError(f"{where}: '{name}' is required")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CatalogError(f"{where}: '{name}' must be a {kind.__name__}")
    return value


NATIVE_PROTOCOLS = ("messages", "responses")


# What a model may read besides text (the catalog's ``modalities``).
MODALITIES = ("image", "audio", "file")


def _protocols(value, where: str) -> list[str]:
    """The protocols a provider speaks natively besides chat completions (which every provider
    must speak: it is what the others are translated to)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: 'protocols' must be a list of names")
    unknown = sorted(set(value) - {"chat", *NATIVE_PROTOCOLS})
    if unknown:
        raise CatalogError(f"{where}: unknown protocol {unknown[0]!r} (chat, messages, responses)")
    return [p for p in NATIVE_PROTOCOLS if p in value]


def _keys(provider: dict) -> list[str]:
    return provider["api_key_envs"] or (
        [provider["api_key_env"]] if provider["api_key_env"] else [""]
    )


COST_FIELDS = {  # upstream_cost's keys → the deployment's fields
    "input": "cost_input",
    "output": "cost_output",
    "cached_input": "cost_cached_input",
    "cache_write": "cost_cache_write",
}


def _limits(entry: dict, where: str) -> dict:
    """A deployment's own terms: ``rpm`` and ``tpm`` (how much it may take per minute; 0 or
    absent: no limit) and ``upstream_cost`` (what the upstream charges us, US$ per 1M tokens:
    input, output, cached_input, cache_write; absent: not declared)."""
    out = {}
    for name in ("rpm", "tpm"):
        value = entry.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CatalogError(f"{where}: '{name}' must be a whole number >= 0")
        out[name] = value
    cost = entry.get("upstream_cost") or {}
    if not isinstance(cost, dict):
        raise CatalogError(f"{where}: 'upstream_cost' must be a table such as "
                           '{ input = "2.50", output = "10.00" }')  # fmt: skip
    for name in cost:
        if name not in COST_FIELDS:
            raise CatalogError(
                f"{where}: upstream_cost.{name} is not one of {', '.join(COST_FIELDS)}"
            )
    for name, column in COST_FIELDS.items():
        value = cost.get(name)
        if value is not None and not isinstance(value, str):
            raise CatalogError(f'{where}: upstream_cost.{name} must be a string such as "2.50"')
        try:
            out[column] = None if value is None else dollars_per_million_to_micro(value)
        except ValueError as exc:
            raise CatalogError(f"{where}: upstream_cost.{name}: {exc}") from exc
    return out


def _deployments(entry: dict, provider: str, upstream_id: str, providers: dict, where: str):
    """The model's deployments: one per key of its own provider (tier 0), then those it lists
    (``[[models.deployments]]``: provider, upstream_id, priority, weight, api_key_env)."""
    own = _limits(entry, where)  # the model's own deployments' limits
    out = [
        {"provider": provider, "upstream_id": upstream_id, "api_key_env": env, "priority": 0,
         "weight": 1, **own}
        for env in _keys(providers[provider])
    ]  # fmt: skip
    listed = entry.get("deployments") or []
    if not isinstance(listed, list):
        raise CatalogError(f"{where}: 'deployments' must be a list of tables")
    for index, item in enumerate(listed):
        here = f"{where}, deployments[{index}]"
        if not isinstance(item, dict):
            raise CatalogError(f"{here}: must be a table")
        slug = _require(item, "provider", str, here)
        if slug not in providers:
            raise CatalogError(f"{here}: unknown provider {slug!r}")
        priority, weight = item.get("priority", 0), item.get("weight", 1)
        for name, value in (("priority", priority), ("weight", weight)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CatalogError(f"{here}: '{name}' must be a whole number >= 0")
        envs = _keys(providers[slug])
        env = item.get("api_key_env")
        if env is not None:
            if env not in envs:
                raise CatalogError(f"{here}: api_key_env {env!r} is not a key of {slug!r}")
            envs = [env]
        for env in envs:
            out.append(
                {
                    "provider": slug,
                    "upstream_id": str(item.get("upstream_id") or upstream_id),
                    "api_key_env": env,
                    "priority": priority,
                    "weight": weight,
                    **_limits(item, here),
                }
            )
    seen = set()
    for d in out:
        key = (d["provider"], d["api_key_env"], d["upstream_id"])
        if key in seen:
            raise CatalogError(f"{where}: the deployment {':'.join(key)} is listed twice")
        seen.add(key)
    return out


def parse_catalog(text: str) -> tuple[dict[str, dict], list[dict]]:
    """Validate the TOML catalog; returns (providers by slug, model field dicts)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"not valid TOML: {exc}") from exc
    providers = {}
    for slug, entry in (data.get("providers") or {}).items():
        where = f"providers.{slug}"
        envs = entry.get("api_key_envs") or []
        if not isinstance(envs, list) or not all(isinstance(e, str) and e for e in envs):
            raise CatalogError(f"{where}: 'api_key_envs' must be a list of variable names")
        providers[slug] = {
            "name": str(entry.get("name") or slug),
            "base_url": _require(entry, "base_url", str, where).rstrip("/"),
            "api_key_env": str(entry.get("api_key_env") or ""),
            "api_key_envs": envs,
            "enabled": bool(entry.get("enabled", True)),
            "protocols": _protocols(entry.get("protocols"), where),
        }
        if not providers[slug]["base_url"].startswith(("http://", "https://")):
            raise CatalogError(f"{where}: base_url must be an http(s) URL")
    models, seen = [], set()
    for index, entry in enumerate(data.get("models") or []):
        where = f"models[{index}]"
        public_id = _require(entry, "id", str, where)
        where = f"model {public_id!r}"
        if public_id in seen:
            raise CatalogError(f"{where}: listed twice")
        seen.add(public_id)
        provider = _require(entry, "provider", str, where)
        if provider not in providers:
            raise CatalogError(f"{where}: unknown provider {provider!r}")
        try:
            prices = {
                name: dollars_per_million_to_micro(_require(entry, name, str, where))
                for name in ("input_price", "output_price")
            }
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        try:
            for name in ("cached_input_price", "cache_write_price", "cache_write_1h_price"):
                value = entry.get(name)
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"'{name}' must be a string such as \"0.50\"")
                prices[name] = None if value is None else dollars_per_million_to_micro(value)
            request_price = entry.get("request_price", "0")
            if not isinstance(request_price, str):
                raise ValueError("'request_price' must be a string such as \"0.001\"")
            # US$ per request → µcr per request: the same factor as per 1M tokens.
            prices["request_price"] = dollars_per_million_to_micro(request_price)
            prices["cache_write_long_price"] = prices.pop("cache_write_1h_price")
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        max_tokens_param = str(entry.get("max_tokens_param") or "max_tokens")
        if max_tokens_param not in ("max_tokens", "max_completion_tokens"):
            raise CatalogError(
                f"{where}: max_tokens_param must be max_tokens or max_completion_tokens"
            )
        context_length = _require(entry, "context_length", int, where)
        max_output = _require(entry, "max_output", int, where)
        if context_length <= 0 or max_output <= 0 or max_output > context_length:
            raise CatalogError(f"{where}: need 0 < max_output <= context_length")
        modalities = entry.get("modalities", [])
        if not isinstance(modalities, list) or set(modalities) - set(MODALITIES):
            raise CatalogError(f"{where}: 'modalities' must be a list of {', '.join(MODALITIES)}")
        description = entry.get("description", "")
        description_zh = entry.get("description_zh", "")
        for text in (description, description_zh):
            if not isinstance(text, str) or len(text) > 500:
                raise CatalogError(f"{where}: a description must be at most 500 characters")
        upstream_id = str(entry.get("upstream_id") or public_id)
        deployments = _deployments(entry, provider, upstream_id, providers, where)
        models.append(
            {
                "public_id": public_id,
                "provider": provider,
                "deployments": deployments,
                "upstream_id": upstream_id,
                "display_name": str(entry.get("name") or ""),
                "family": str(entry.get("family") or ""),
                "description": description.strip(),
                "description_zh": description_zh.strip(),
                "modalities": [m for m in MODALITIES if m in modalities],
                "context_length": context_length,
                "max_output": max_output,
                "enabled": bool(entry.get("enabled", True)),
                "max_tokens_param": max_tokens_param,
                **prices,
            }
        )
    return providers, models


def _price_report(models: list[dict]) -> list[PriceDiff]:
    listed = [m["public_id"] for m in models]
    existing = {m.public_id: m for m in Model.objects.filter(public_id__in=listed)}
    diffs = []
    for entry in models:
        current = existing.get(entry["public_id"])
        old = None if current is None else {f: getattr(current, f) for f in PRICE_FIELDS}
        deployments = [
            {**d, "label": f"{d['provider']}:{d['api_key_env'] or '-'}:{d['upstream_id']}"}
            for d in entry["deployments"]
        ]
        diffs += price_diffs(entry["public_id"], old, entry, deployments)
    return diffs


@transaction.atomic
def catalog_sync(
    *, path: Path, force: bool = False, dry_run: bool = False, actor: str = "sync_catalog"
) -> SyncReport:
    """Make the database match the file. Models missing from the file are disabled, not
    deleted (usage records keep pointing at them). Price changes are checked first
    (``guard.py``): any the guard rails refuse stops the sync (PriceGuardError, nothing
    written) unless ``force``; each applied change is kept in the price history. ``dry_run``:
    the report of what would change, nothing written."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc}") from exc
    providers, models = parse_catalog(text)
    report = SyncReport(providers=len(providers), prices=_price_report(models))
    if dry_run or (report.refused and not force):
        report.applied = False
        if report.refused and not dry_run:
            raise PriceGuardError(report)
        return report
    by_slug = {}
    for slug, fields in providers.items():
        by_slug[slug], _ = Provider.objects.update_or_create(slug=slug, defaults=fields)
    for fields in models:
        fields = {**fields, "provider": by_slug[fields["provider"]]}
        public_id = fields.pop("public_id")
        deployments = fields.pop("deployments")
        model, created = Model.objects.update_or_create(public_id=public_id, defaults=fields)
        (report.created if created else report.updated).append(public_id)
        if not created:
            PriceChange.objects.bulk_create(
                PriceChange(
                    model=model,
                    field=d.field,
                    old=d.old,
                    new=d.new,
                    changed_by=actor[:200],
                    forced=d.refused,
                    reasons="; ".join(d.reasons),
                )
                for d in report.prices
                if d.model == public_id
            )
        _deployments_sync(model, deployments, by_slug)
    listed = [m["public_id"] for m in models]
    stale = Model.objects.filter(enabled=True).exclude(public_id__in=listed)
    report.disabled = list(stale.values_list("public_id", flat=True))
    stale.update(enabled=False)
    return report


def _deployments_sync(model: Model, listed: list[dict], by_slug: dict) -> None:
    """The model's deployments as the file lists them; staff's enabled/disabled choice is
    kept for a deployment that stays."""
    kept = set()
    for position, item in enumerate(listed):
        deployment, _ = Deployment.objects.update_or_create(
            model=model,
            provider=by_slug[item["provider"]],
            api_key_env=item["api_key_env"],
            upstream_id=item["upstream_id"],
            defaults={
                "priority": item["priority"],
                "weight": item["weight"],
                "position": position,
                "rpm": item["rpm"],
                "tpm": item["tpm"],
                **{column: item[column] for column in COST_FIELDS.values()},
            },
        )
        kept.add(deployment.pk)
    Deployment.objects.filter(model=model).exclude(pk__in=kept).delete()


def catalog_key_variables(*, path: Path | None = None) -> set[str]:
    """The API-key environment variables the catalog file declares: the only ones a provider
    may read (an edit in the admin cannot make the gateway send another secret upstream)."""
    from django.conf import settings

    try:
        providers, _ = parse_catalog(Path(path or settings.OPENCODEX_CATALOG).read_text("utf-8"))
    except (OSError, CatalogError):
        return set()
    return {env for p in providers.values() for env in _keys(p) if env}


def deployment_probe(*, target, timeout: float = 10.0) -> tuple[bool, str]:
    """Ask a deployment for one token: (answered, what happened). It costs the provider's price
    of a one-word prompt and one output token."""
    import json
    import urllib.error
    import urllib.request

    body = json.dumps(
        {"model": target.upstream_id, "messages": [{"role": "user", "content": "ping"}],
         "max_tokens": 1}
    ).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", "User-Agent": "OpenCodex-Probe"}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    request = urllib.request.Request(  # noqa: S310 - the catalog's own http(s) endpoint
        f"{target.base_url}/chat/completions", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status == 200, f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def deployment_enable(*, name: str) -> None:
    """Back in service at once, for every gateway process (they read the shared state within
    a second): the cooldown is replaced by one that has already ended."""
    import time

    from .selectors import COOL_PREFIX, DISABLED_PREFIX, routing_redis

    client = routing_redis()
    if client is None:
        return
    with client.pipeline() as pipe:
        pipe.delete(DISABLED_PREFIX + name)
        pipe.set(COOL_PREFIX + name, str(time.time() - 1), px=10_000)  # "ended": a marker
        pipe.execute()


def deployments_probe_disabled() -> dict[str, str]:
    """Probe every deployment out of service; those that answer are enabled again. Returns
    name → the probe's outcome."""
    from .selectors import deployment_targets, deployments_disabled

    disabled = deployments_disabled()
    if not disabled:
        return {}
    targets = deployment_targets()
    out = {}
    for name in disabled:
        target = targets.get(name)
        if target is None:
            continue
        answered, detail = deployment_probe(target=target)
        out[name] = detail
        if answered:
            deployment_enable(name=name)
    return out


def deployment_disabled_alert(*, name: str, reason: str) -> int:
    """Tell staff a deployment was taken out of service (e-mail to active staff users)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    staff = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not staff:
        return 0
    return send_mail(
        f"[OpenCodex] Deployment {name} taken out of service",
        f"The gateway stopped sending requests to {name}: {reason}.\n\n"
        "It is probed every minute and comes back by itself when it answers; the admin's "
        "Deployments page shows it and can test it now.",
        None,
        staff,
    )
