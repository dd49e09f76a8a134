"""The admin's Deployments page, with each deployment's last hour beside its routing state.

The catalog (a lower layer) registers the page; what happened to each deployment is in the
usage records, which only this app reads. So the page is registered again here, extended: the
same list, filters and actions, plus attempts, error rate, last error, p50 time to answer and
p50 time to the first token over the last hour (read once per page)."""

from django.contrib import admin

from apps.catalog.admin import DeploymentAdmin
from apps.catalog.models import Deployment

from .selectors import deployment_health


class DeploymentWithHealthAdmin(DeploymentAdmin):
    list_display = [
        *DeploymentAdmin.list_display,
        "last_hour_attempts",
        "error_rate",
        "last_error",
        "p50_ms",
        "p50_ttft_ms",
    ]

    def changelist_view(self, request, extra_context=None):
        self._health = deployment_health()
        return super().changelist_view(request, extra_context)

    def _of(self, obj):
        return getattr(self, "_health", {}).get(obj.label)

    @admin.display(description="attempts (1 h)")
    def last_hour_attempts(self, obj):
        health = self._of(obj)
        return health.attempts if health else 0

    @admin.display(description="error rate (1 h)")
    def error_rate(self, obj):
        health = self._of(obj)
        return f"{health.error_rate:.1%}" if health and health.attempts else "—"

    @admin.display(description="last error")
    def last_error(self, obj):
        health = self._of(obj)
        return (health.last_error if health else "") or "—"

    @admin.display(description="p50 answer (1 h)")
    def p50_ms(self, obj):
        health = self._of(obj)
        return f"{health.p50_ms} ms" if health and health.p50_ms is not None else "—"

    @admin.display(description="p50 first token (1 h)")
    def p50_ttft_ms(self, obj):
        health = self._of(obj)
        return f"{health.p50_ttft_ms} ms" if health and health.p50_ttft_ms is not None else "—"


admin.site.unregister(Deployment)
admin.site.register(Deployment, DeploymentWithHealthAdmin)
