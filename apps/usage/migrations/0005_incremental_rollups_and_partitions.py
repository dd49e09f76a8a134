"""Incremental rollups (a cursor over the order records commit in) and, on PostgreSQL, the
request table partitioned by day (apps/usage/partitions.py, apps/usage/rollup.py).

Records that exist already have their ledger entry each (the rule before this migration): the
cursor starts past them, and the hourly rollups are rebuilt from them once.
"""

from datetime import UTC

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from apps.usage.partitions import convert_to_partitioned

    convert_to_partitioned(schema_editor)


def start_cursor(apps, schema_editor):
    UsageRecord = apps.get_model("usage", "UsageRecord")
    UsageHour = apps.get_model("usage", "UsageHour")
    UsageCursor = apps.get_model("usage", "UsageCursor")
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Records written before this migration have txid 0: below any position.
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            position = cursor.fetchone()[0]
    else:
        last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first()
        position = (last or 0) + 1
    UsageCursor.objects.update_or_create(name="rollup", defaults={"position": position})
    # The old rollup recomputed the last two hours each minute: rebuild every hour once, so
    # the records it had not reached yet are counted.
    UsageHour.objects.all().delete()
    buckets = (
        UsageRecord.objects.annotate(bucket=TruncHour("created_at", tzinfo=UTC))
        .values("bucket", "user_id", "api_key_id", "model")
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(status__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cached=Sum("cached_tokens"),
            written=Sum("cache_write_tokens"),
            spent=Sum("cost"),
        )
        .order_by()
    )
    UsageHour.objects.bulk_create(
        (
            UsageHour(
                hour=b["bucket"],
                user_id=b["user_id"],
                key_id=b["api_key_id"] or 0,
                model=b["model"],
                requests=b["n"],
                errors=b["failed"],
                prompt_tokens=b["prompt"] or 0,
                completion_tokens=b["completion"] or 0,
                cached_tokens=b["cached"] or 0,
                cache_write_tokens=b["written"] or 0,
                cost=b["spent"] or 0,
            )
            for b in buckets.iterator(chunk_size=5000)
        ),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0004_apikey_budget_key"),
        ("usage", "0004_ttft"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UsageCursor",
            fields=[
                ("name", models.CharField(max_length=30, primary_key=True, serialize=False)),
                ("position", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="usagerecord",
            name="txid",
            field=models.BigIntegerField(db_default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="usagerecord",
            name="request_id",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="usagerecord",
            constraint=models.UniqueConstraint(
                fields=("request_id", "created_at"), name="usage_record_request_unique"
            ),
        ),
        migrations.RunPython(partition, migrations.RunPython.noop),
        migrations.RunPython(start_cursor, migrations.RunPython.noop),
    ]
