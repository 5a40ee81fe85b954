"""Helpers shared by every public page a customer reaches through a signed link."""

from django.conf import settings
from django.shortcuts import render
from django.utils import translation

from core.links import LinkExpired, LinkInvalid

LANGUAGE_CODES = [code for code, _ in settings.LANGUAGES]
PUBLIC_RATE = "120/m"


def requested_language(request) -> str | None:
    for candidate in (request.GET.get("lang"), request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)):
        if candidate in LANGUAGE_CODES:
            return candidate
    return None


def with_language(request, language: str, render_page):
    """Render in ``language``; remember an explicit switch (``?lang=``) in the cookie."""
    with translation.override(language):
        request.LANGUAGE_CODE = language
        response = render_page()
    response["Content-Language"] = language
    if request.GET.get("lang") in LANGUAGE_CODES:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=60 * 60 * 24 * 365,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,
        )
    return response


def language_from_token(read_language):
    """Mark a public view with how its token names the customer's language, so the pages
    answered before the view runs (429 Too many requests) speak it too."""

    def mark(view):
        view.token_language = read_language
        return view

    return mark


def page_language(request) -> str:
    """The language of a page answered for a public view without running it: an explicit
    choice, else the language of the customer its token names, else the browser's."""
    language = requested_language(request)
    match = getattr(request, "resolver_match", None)
    read_language = getattr(match.func, "token_language", None) if match else None
    if language is None and read_language is not None and "token" in match.kwargs:
        try:
            language = read_language(match.kwargs["token"])
        except (LinkExpired, LinkInvalid):
            language = None
    language = language or translation.get_language_from_request(request)
    return language if language in LANGUAGE_CODES else "en"


def link_problem(request, *, expired: bool):
    language = requested_language(request) or translation.get_language_from_request(request)
    return with_language(
        request,
        language if language in LANGUAGE_CODES else "en",
        lambda: render(
            request,
            "core/link_problem.html",
            {"expired": expired},
            status=410 if expired else 400,
        ),
    )


def from_token(request, read, token: str):
    """Resolve a signed token with ``read``.

    Returns (the object the token names, None) or (None, the friendly 400/410 page).
    """
    try:
        return read(token), None
    except LinkExpired:
        return None, link_problem(request, expired=True)
    except LinkInvalid:
        return None, link_problem(request, expired=False)
