"""A browser page that records Content-Security-Policy refusals: every journey also proves the
site works under its policy."""


def csp_page(browser, base_url: str, **context_options):
    """A new page on ``base_url`` in a context of its own, and the list its CSP refusals land
    in (the caller asserts it stays empty, and closes ``page.context``)."""
    context = browser.new_context(base_url=base_url, **context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return page, refused
