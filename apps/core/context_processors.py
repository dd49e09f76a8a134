from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# The portal's sections, in menu order. A section whose page has not shipped yet is shown greyed
# out instead of linking to a page that does not exist.
NAV_SECTIONS = [
    (_("Dashboard"), "dashboard"),
    (_("API Keys"), "keys:list"),
    (_("Usage"), "usage:index"),
    (_("Billing"), "billing:index"),
    (_("Docs"), "docs:index"),
]


def _resolve(url_name):
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def site(request):
    path = request.path
    nav = []
    for label, url_name in NAV_SECTIONS:
        url = _resolve(url_name)
        nav.append(
            {
                "label": label,
                "url": url,
                "current": bool(url) and (path == url or (url != "/" and path.startswith(url))),
            }
        )
    return {"SITE_URL": settings.SITE_URL, "nav_sections": nav}
