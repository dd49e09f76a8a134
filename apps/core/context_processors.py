from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .roles import can

# The portal's sections, in menu order.
NAV_SECTIONS = [
    (_("Dashboard"), "dashboard"),
    (_("API Keys"), "keys:list"),
    (_("Playground"), "console:playground"),
    (_("Models"), "console:models"),
    (_("Usage"), "usage:index"),
    (_("Billing"), "billing:index"),
    (_("Docs"), "docs:index"),
]
# In an organization a section shows only to the roles that may open it (apps.core.roles).
NAV_PERMISSIONS = {
    "keys:list": "keys",
    "console:playground": "playground",
    "usage:index": "usage.own",
    "billing:index": "billing",
}


def site(request):
    path = request.path
    nav = []
    for label, url_name in NAV_SECTIONS:
        permission = NAV_PERMISSIONS.get(url_name)
        if permission is not None and not can(request, permission):
            continue
        url = reverse(url_name)
        nav.append({"label": label, "url": url, "current": path.startswith(url)})
    return {
        "SITE_URL": settings.SITE_URL,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "nav_sections": nav,
    }
