"""The cancellation flow with the keyboard only: Tab, Shift+Tab, Space and Enter, no clicks.

Every stop must show a visible focus ring that stands out from what is behind it, the focus
must follow the page's reading order (nothing skipped, nothing unreachable), and both ways
through — staying with a pause and cancelling — must be possible.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from cancellations.enums import CaseOutcome, OfferKind
from cancellations.links import cancel_link
from cancellations.models import CancellationCase
from subscriptions.enums import SubscriptionStatus
from tests.cancellations.conftest import reason
from tests.factories import make_subscription

FOCUSABLE = (
    "a[href], button:not([disabled]), select:not([disabled]), textarea:not([disabled]),"
    " input:not([type=hidden]):not([disabled]), [tabindex]:not([tabindex='-1'])"
)

# A short description of an element, the same for the DOM walk and the focus walk.
DESCRIBE = """el => el === null || el === document.body ? 'body' :
  el.tagName.toLowerCase() + ':' + (el.id || el.getAttribute('name') || '') + ':' +
  (el.value && el.tagName === 'BUTTON' ? el.value : (el.innerText || '').trim().slice(0, 40))"""

FOCUS_RING = """el => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  // The colour behind the ring: the first ancestor with a background of its own.
  let behind = el.parentElement, bg = 'rgb(255, 255, 255)';
  while (behind) {
    const c = getComputedStyle(behind).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
    behind = behind.parentElement;
  }
  return {
    focusVisible: el.matches(':focus-visible'),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outlineColor: style.outlineColor,
    background: bg,
    // Within a pixel: Chromium scrolls a focused element into view by whole pixels, and a
    // box at a fractional position (1.55 line height) can then end 0.3 px past the edge.
    onScreen: box.width > 0 && box.height > 0 && box.left >= -1 && box.top >= -1 &&
      box.right <= window.innerWidth + 1 && box.bottom <= window.innerHeight + 1,
  };
}"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(n) for n in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def contrast(one: str, two: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(rgb):
        def channel(c):
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(_rgb(one)), luminance(_rgb(two))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def focused(page) -> str:
    return page.evaluate(f"({DESCRIBE})(document.activeElement)")


def assert_focus_visible(page) -> str:
    """The focused element shows a ring of at least 2px with 3:1 contrast (WCAG 1.4.11)."""
    ring = page.evaluate(f"({FOCUS_RING})(document.activeElement)")
    where = focused(page)
    assert ring["focusVisible"], f"{where} has focus but no :focus-visible"
    assert ring["outlineStyle"] != "none" and ring["outlineWidth"] >= 2, (where, ring)
    assert contrast(ring["outlineColor"], ring["background"]) >= 3, (where, ring)
    assert ring["onScreen"], f"{where} has focus but is not on screen"
    return where


def press(page, key: str) -> str:
    page.keyboard.press(key)
    return assert_focus_visible(page)


def tab_to(page, target, *, limit: int = 30) -> list[str]:
    """Tab until ``target`` (a locator) has focus, checking every stop; the stops passed."""
    stops = []
    for _ in range(limit):
        stops.append(press(page, "Tab"))
        if target.evaluate("el => el === document.activeElement"):
            return stops
    raise AssertionError(f"{target} cannot be reached with Tab; passed {stops}")


def assert_tab_order_is_reading_order(page) -> None:
    """Tabbing from the top visits every focusable element once, in document order."""
    expected = page.eval_on_selector_all(
        FOCUSABLE,
        f"els => els.filter(el => el.offsetParent !== null || el.classList.contains('skip')).map({DESCRIBE})",
    )
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("body").focus()
    visited = [press(page, "Tab") for _ in expected]
    assert visited == expected
    # And back: Shift+Tab walks the same way in reverse.
    back = [press(page, "Shift+Tab") for _ in expected[:-1]]
    assert back == expected[-2::-1]


@pytest.fixture
def link(defaults, plans, settings, live_server):
    settings.TACK_PUBLIC_BASE_URL = live_server.url

    def make():
        subscription = make_subscription(
            plan=plans["standard"],
            name="Oliver Bennett",
            locale="en",
            period_end=timezone.now() + timedelta(days=12),
        )
        return subscription, cancel_link(subscription=subscription)[0]

    return make


# Under heavy load (a 2-core machine running the whole suite), Chromium now and then loses
# the focus to <body> right after the skip link's jump; not seen when run alone. Rerun only
# on that message, so any other failure still fails at once.
FOCUS_RACE = dict(reruns=2, only_rerun=["body has focus but no :focus-visible"])


@pytest.mark.flaky(**FOCUS_RACE)
def test_keyboard_only_customer_stays_with_a_pause(page, screenshots, link):
    subscription, url = link()
    shot = screenshots(page, "en", "keyboard-accept-pause")
    page.goto(url)

    # The first Tab reaches the skip link, which shows itself and jumps past the header.
    assert press(page, "Tab").startswith("a::Skip to content")
    shot("skip-link")
    page.keyboard.press("Enter")
    # The jump to #main moves the focus start point; a Tab pressed before it lands would
    # be undone by it (seen on a loaded machine).
    page.wait_for_function("location.hash === '#main'")
    moving = page.get_by_role("button", name=reason("moving").label_en)
    just_cancel = page.get_by_role("link", name="Cancel my subscription")
    first_reason = page.locator("ul.choices button").first
    # Cancelling without a reason comes first, then the reasons.
    assert press(page, "Tab") == just_cancel.evaluate(DESCRIBE)
    assert press(page, "Tab") == first_reason.evaluate(DESCRIBE)
    # Past the reason wanted, and back with Shift+Tab.
    tab_to(page, moving)
    after = press(page, "Tab")
    assert press(page, "Shift+Tab") == moving.evaluate(DESCRIBE) != after
    shot("reason-focused")
    page.keyboard.press("Space")
    page.wait_for_url("**/offers/")

    assert_tab_order_is_reading_order(page)
    page.locator("body").focus()
    tab_to(page, page.get_by_label(reason("moving").prompt_en))
    page.keyboard.type("Oslo")
    months = page.get_by_label("How long a pause?")
    tab_to(page, months)
    page.keyboard.press("ArrowDown")
    assert months.input_value() == "2"
    stay = page.locator("section.offer").first.get_by_role(
        "button", name="Yes, I will stay with this"
    )
    tab_to(page, stay)
    shot("stay-focused")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    assert "Thank you for staying, Oliver Bennett!" in page.get_by_role("status").inner_text()
    shot("saved")

    case = CancellationCase.objects.get(subscription=subscription)
    assert case.outcome == CaseOutcome.SAVED and case.accepted_offer.kind == OfferKind.PAUSE
    assert case.reason_text == "Oslo"
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    assert subscription.paused_until.date() > (timezone.now() + timedelta(days=55)).date()


@pytest.mark.flaky(**FOCUS_RACE)
def test_keyboard_only_customer_cancels_and_enter_in_a_text_field_accepts_nothing(
    page,
    screenshots,
    link,
    plans,
):
    subscription, url = link()
    shot = screenshots(page, "en", "keyboard-decline-cancel")
    page.goto(url)

    cheaper = page.get_by_role("button", name=reason("competitor_price").label_en)
    tab_to(page, cheaper)
    page.keyboard.press("Enter")
    page.wait_for_url("**/offers/")
    assert page.locator("button[disabled][hidden]").is_hidden()  # the form's inert default
    assert_tab_order_is_reading_order(page)

    page.locator("body").focus()
    competitor = page.get_by_label("Which company are you moving to?")
    tab_to(page, competitor)
    page.keyboard.type("Cheapo")
    # Enter in a text field must not pick an offer for the customer (the form's first
    # button is "Yes, I will stay with this" on the cheaper plan).
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.url.endswith("/offers/")
    subscription.refresh_from_db()
    assert subscription.plan == plans["standard"]
    assert CancellationCase.objects.get(subscription=subscription).outcome == CaseOutcome.OPEN
    shot("competitor-typed")

    cancel = page.get_by_role("button", name="Cancel my subscription")
    tab_to(page, cancel)
    shot("cancel-focused")
    page.keyboard.press("Space")
    page.wait_for_url("**/done/")
    assert "Your cancellation is confirmed" in page.get_by_role("status").inner_text()
    # The undo is reachable from the keyboard too.
    page.locator("body").focus()
    tab_to(page, page.get_by_role("button", name="Keep my subscription"))
    shot("cancelled-undo-focused")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.outcome, case.accepted_offer, case.competitor) == (
        CaseOutcome.CANCELLED,
        None,
        "Cheapo",
    )
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    assert subscription.plan == plans["standard"]
