"""A manager on a phone (390 px wide): the dashboard, each of its tabs, the voice of the
customer and the admin pages a manager works in scroll only downwards, never sideways."""

import pytest
from django.contrib import admin

from tests.e2e.conftest import admin_login
from tests.winback.conftest import campaigns  # noqa: F401 - shared fixture
from winback.models import Campaign

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DASHBOARD = "/admin/retention/dashboard/"
TABS = [
    "overview",
    "reason",
    "offer",
    "channel",
    "agent",
    "plan",
    "churn_group",
    "campaign",
    "message",
    "trends",
]


SHOWN = {
    f"{DASHBOARD}?tab=overview&range=12m": "dashboard",
    f"{DASHBOARD}?tab=reason&range=12m": "dashboard-reasons",
    "/admin/retention/voice/": "voice",
}


def manager_pages(manager) -> list[str]:
    """The dashboard's tabs, the voice page, and the list of every model in the admin the
    manager may view (and a campaign's page, the one with the most fields)."""
    campaign = Campaign.objects.order_by("pk").first()
    models = [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
        if manager.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
    ]
    return [
        "/admin/",
        *(f"{DASHBOARD}?tab={tab}&range=12m" for tab in TABS),
        "/admin/retention/voice/",
        "/admin/retention/voice/?q=cheaper",
        *sorted(models),
        *([f"/admin/winback/campaign/{campaign.pk}/change/"] if campaign else []),
    ]


def too_wide(page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_a_manager_never_scrolls_sideways(
    browser,
    live_server,
    viewport,
    manager,
    book,
    campaigns,  # noqa: F811
    screenshots,
):
    context = browser.new_context(base_url=live_server.url, viewport=viewport, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    shot = screenshots(page, "en", f"manager-{viewport['width']}px")
    try:
        admin_login(page, manager)
        wide = {}
        for url in manager_pages(manager):
            response = page.goto(url)
            assert response.status == 200, url
            width, viewport_width = too_wide(page)
            if width > viewport_width:
                wide[url] = width
            if url in SHOWN:
                shot(SHOWN[url])
        assert wide == {}, f"wider than {viewport['width']} px: {wide}"
    finally:
        context.close()


def test_the_overview_fits_one_laptop_screen(browser, live_server, manager, book, screenshots):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    page = context.new_page()
    try:
        admin_login(page, manager)
        page.goto(DASHBOARD)
        screenshots(page, "en", "manager-1280px")("overview")
        bottoms = page.evaluate(
            "() => [...document.querySelectorAll('.kpi, svg.chart')]"
            ".map(e => e.getBoundingClientRect().bottom)"
        )
        assert len(bottoms) == 7  # five cards, two charts
        assert max(bottoms) <= 800, bottoms
    finally:
        context.close()
