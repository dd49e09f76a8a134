# The upstream cost beside the sale price (issue #23). On PostgreSQL usage_usagerecord is
# partitioned by day: ADD COLUMN on the parent adds the column to every partition (and to the
# default one), and partitions created later copy it (CREATE TABLE … LIKE the parent). A
# nullable column with no default is a catalog change only: no partition is rewritten.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0009_deployment_and_attempts"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerecord",
            name="upstream_cost",
            field=models.BigIntegerField(
                blank=True,
                help_text="µcr the upstream charges us for the same usage (empty: unknown)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="usagehour",
            name="upstream_cost",
            field=models.BigIntegerField(
                db_default=0,
                default=0,
                help_text="µcr, of the records whose upstream cost is known",
            ),
        ),
        migrations.AddField(
            model_name="usagehour",
            name="unknown_cost",
            field=models.PositiveIntegerField(
                db_default=0, default=0, help_text="records whose upstream cost is unknown"
            ),
        ),
        migrations.CreateModel(
            name="DeploymentHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField(help_text="start of the hour, UTC")),
                ("model", models.CharField(max_length=100)),
                (
                    "deployment",
                    models.CharField(blank=True, help_text="empty: none answered", max_length=300),
                ),
                ("requests", models.PositiveIntegerField(default=0)),
                ("errors", models.PositiveIntegerField(default=0)),
                ("cost", models.BigIntegerField(default=0, help_text="µcr charged")),
                (
                    "upstream_cost",
                    models.BigIntegerField(default=0, help_text="µcr, where known"),
                ),
                (
                    "unknown_cost",
                    models.PositiveIntegerField(
                        default=0, help_text="records whose upstream cost is unknown"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "model", "deployment"),
                        name="deployment_hour_unique_bucket",
                    )
                ],
            },
        ),
    ]
