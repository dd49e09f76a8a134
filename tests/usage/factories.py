import itertools
from datetime import datetime

from apps.usage.models import UsageRecord

_ids = itertools.count()


def record(user, *, at: datetime, key=None, model="demo-chat", cost=1000, status=200, **fields):
    return UsageRecord.objects.create(
        request_id=f"req_test_{next(_ids)}",
        user=user,
        api_key=key,
        model=model,
        prompt_tokens=fields.pop("prompt_tokens", 10),
        completion_tokens=fields.pop("completion_tokens", 20),
        cost=cost,
        status=status,
        latency_ms=fields.pop("latency_ms", 100),
        created_at=at,
        **fields,
    )
