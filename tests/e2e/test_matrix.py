"""Every page at every width people use, in English and Simplified Chinese.

For each of 360, 390, 800, 1,280 and 1,920 px and each language, every public page, every
signed-in page with data in its tables, every docs page and the site's forms with their errors
shown are opened in Chromium, and each fails the test on:

* horizontal overflow of the page (content wider than the window outside a scroll container);
* overlapping elements: two visible pieces of text or controls whose boxes intersect (a sticky
  column or header over what scrolls beneath it is by design and left out);
* a Content-Security-Policy violation (the ``page`` fixture), a console error or an uncaught
  script error.

A full-page screenshot of each lands in ``var/screenshots/matrix/<language>/<width>/``.
"""

import pytest
from django.conf import settings

from tests.e2e.test_layout import busy_user, log_in  # noqa: F401 (the fixture is used by name)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = [360, 390, 800, 1280, 1920]
LANGUAGES = ["en", "zh-hans"]
SCREENSHOTS = settings.BASE_DIR / "var" / "screenshots" / "matrix"
PUBLIC = ["/", "/models/", "/models/gpt-4o/", "/docs/", "/accounts/login/", "/accounts/signup/"]
SIGNED_IN = [
    "/dashboard/",
    "/keys/",
    "/usage/",
    "/usage/?range=30d",
    "/usage/requests/",
    "/usage/requests/req_layout_00_1_0123456789abcdef0123456789/",
    "/billing/",
    "/account/",
    "/account/webhooks/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/playground/",
]

# Text and controls: what a person reads or clicks. Two of them overlapping (not one inside the
# other) is a layout bug whatever the page.
OVERLAPS = """() => {
  const picks = [];
  const visible = (el) => {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    if (el.closest('[aria-hidden=true], .visually-hidden, .sr-only')) return false;
    return true;
  };
  const clipped = (el, r) => {  // wholly scrolled out of sight inside a scroll container
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (/(auto|scroll|hidden)/.test(s.overflowX + s.overflowY)) {
        const b = p.getBoundingClientRect();
        if (r.right <= b.left + 1 || r.left >= b.right - 1 || r.bottom <= b.top + 1
            || r.top >= b.bottom - 1) return true;
      }
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const tag = el.tagName;
    const control = ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(tag)
      && el.type !== 'hidden';
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!control && !text) continue;
    if (['SCRIPT', 'STYLE', 'OPTION', 'CANVAS', 'svg', 'TITLE'].includes(tag)) continue;
    if (!visible(el)) continue;
    if (!control && !(el.innerText || '').trim()) continue;  // nothing rendered
    let rects;
    if (text && !control) {  // the text's own line boxes, not the element's padding
      const range = document.createRange();
      range.selectNodeContents(el);
      rects = [...range.getClientRects()];
    } else {
      rects = [el.getBoundingClientRect()];
    }
    rects = rects.filter(r => r.width >= 2 && r.height >= 2 && !clipped(el, r));
    // A sticky column or header lies over what scrolls beneath it, on purpose (it has a
    // background): it is left out, as is anything fixed.
    let pinned = false;
    for (let p = el; p && p !== document.body; p = p.parentElement) {
      const position = getComputedStyle(p).position;
      if (position === 'sticky' || position === 'fixed') { pinned = true; break; }
    }
    if (rects.length && !pinned) picks.push({el, rects});
  }
  const meet = (a, b) => {
    for (const p of a) for (const q of b) {
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 3 && h > 3) return true;
    }
    return false;
  };
  const found = [];
  for (let i = 0; i < picks.length; i++) {
    for (let j = i + 1; j < picks.length; j++) {
      const a = picks[i], b = picks[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      if (meet(a.rects, b.rects)) {
        const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
          + (e.className && typeof e.className === 'string'
             ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
          + ' "' + (e.innerText || e.value || '').trim().slice(0, 30) + '"';
        found.push(name(a.el) + ' overlaps ' + name(b.el));
        if (found.length > 5) return found;
      }
    }
  }
  return found;
}"""

# Forms shown with their errors: (page, what to fill, the button, a text the error shows).
FORMS = [
    ("/keys/", {"#id_name": " ", "#id_credit_limit": "-5"}, "Create key", None),
    ("/billing/", {"#id_budget": "-1"}, "Save budget", None),
    ("/account/webhooks/", {"#id_url": "ftp://example"}, "Add endpoint", None),
]


class Problems:
    """Console errors and uncaught exceptions of a page, gathered while it is open."""

    def __init__(self, page):
        self.seen = []
        page.on(
            "console",
            lambda m: self.seen.append(f"console {m.type}: {m.text}") if m.type == "error" else 0,
        )
        page.on("pageerror", lambda error: self.seen.append(f"script error: {error}"))

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


def settle(page) -> None:
    """The page loaded and htmx has nothing in flight (a fragment loaded on load, a swap)."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping')")


def check(page, problems, url: str, folder, name: str | None = None) -> list[str]:
    """What is wrong with the page now open at ``url``."""
    settle(page)
    name = name or url.strip("/").replace("/", "_").replace("?", "_") or "home"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    wrong = [f"{url}: {p}" for p in problems.take()]
    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if width > 0:
        wrong.append(f"{url}: the page scrolls sideways by {width} px")
    wrong += [f"{url}: {o}" for o in page.evaluate(OVERLAPS)]
    return wrong


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_at_every_width(page, live_server, busy_user, width, language):  # noqa: F811
    from apps.docs.pages import SLUGS

    page.set_viewport_size({"width": width, "height": 900})
    folder = SCREENSHOTS / language / str(width)
    folder.mkdir(parents=True, exist_ok=True)
    cookie = {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}
    problems = Problems(page)
    wrong = []
    page.context.add_cookies([cookie])
    for url in PUBLIC:
        page.goto(url)
        wrong += check(page, problems, url, folder)
    page.context.clear_cookies()
    log_in(page, busy_user.email)
    page.context.add_cookies([cookie])
    key = busy_user.api_keys.order_by("pk").first()
    for url in [*SIGNED_IN, f"/keys/{key.pk}/", *(f"/docs/{slug}/" for slug in SLUGS)]:
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        wrong += check(page, problems, url, folder)
    for url, fields, _button, _ in FORMS:
        page.goto(url)
        for selector, value in fields.items():
            field = page.locator(selector)
            if field.count():
                field.first.fill(value)
        form = page.locator(next(iter(fields))).first.locator("xpath=ancestor::form")
        form.evaluate("f => { f.noValidate = true; f.requestSubmit(); }")
        page.wait_for_selector(".errorlist, .field-error, [role=alert]")
        settle(page)
        assert page.locator(".errorlist, .field-error, [role=alert]").count() > 0, url
        # A form sent with htmx answers its errors with 400, which Chromium logs as a failed
        # load: expected here, and only here.
        problems.seen = [p for p in problems.seen if "status of 400" not in p]
        wrong += check(page, problems, url, folder, name="form_" + url.strip("/").replace("/", "_"))
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_an_overlap_a_sideways_scroll_and_a_script_error(page, live_server):
    """The matrix's own checks fail on a page made wrong on purpose."""
    page.set_viewport_size({"width": 390, "height": 900})
    folder = SCREENSHOTS / "broken"
    folder.mkdir(parents=True, exist_ok=True)
    problems = Problems(page)
    page.goto("/accounts/login/")
    assert check(page, problems, "/accounts/login/", folder) == []
    with page.expect_event("pageerror"):
        page.evaluate(
            """() => {
        const label = document.querySelector('label');
        const button = document.querySelector('button[type=submit]');
        const b = button.getBoundingClientRect(), l = label.getBoundingClientRect();
        label.style.position = 'relative';
        label.style.left = (b.left - l.left) + 'px';
        label.style.top = (b.top - l.top) + 'px';
        document.querySelector('h1').style.width = '900px';
        setTimeout(() => { throw new Error('on purpose'); });
    }"""
        )
    wrong = "\n".join(check(page, problems, "/accounts/login/", folder, name="broken"))
    assert "overlaps" in wrong and "scrolls sideways" in wrong and "on purpose" in wrong, wrong
