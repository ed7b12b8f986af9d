"""Sign-in: the login form's own words, and safety with django-axes: who an attempt counts
against, and what a locked-out login sees (the login page saying why and for how long, not a
bare error page)."""

from __future__ import annotations

from typing import Any

from axes.utils import reset
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mailroom import conf

WRONG_LOGIN = (
    "That email or user name and password do not match an account. Check both and try "
    "again: both are case-sensitive."
)


class SignInForm(AuthenticationForm):
    """Django's login form, with a failed login told in the login page's own words.

    Django's text speaks of a "username", which this page labels "Email or user name". Like
    Django's, it never says which of the two was wrong (nor whether the account exists or is
    deactivated), so a login cannot be used to find out who has an account.
    """

    error_messages = {**AuthenticationForm.error_messages, "invalid_login": WRONG_LOGIN}


def lockout_text() -> str:
    """What a locked-out login is told."""
    minutes = conf.LOGIN_LOCKOUT_MINUTES
    return (
        f"Too many failed logins: logging in to this account, or from this address, is "
        f"paused for {minutes} minute{'s' if minutes != 1 else ''}. Try again later, or ask "
        "an administrator to reset your password."
    )


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a login attempt counts against: the name typed, trimmed and in lower case,
    so that "Alice@Example.com" and "alice@example.com" share one count."""
    source: Any = credentials if credentials else request.POST
    value = source.get("username") or ""
    return str(value).strip().lower()


def forget_own_failures(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """After a successful login, forget the failures against that account only.

    The failures from the same address against other accounts stay counted: otherwise anyone
    with an account could guess another person's password, a few tries at a time, logging in
    to their own account in between to clear the address's count.
    """
    names = {user.get_username().strip().lower()}
    if request is not None:
        names.add(attempted_username(request, None))
    for name in names - {""}:
        reset(username=name)


def client_address(request: HttpRequest) -> str:
    """The address an attempt comes from: the connection's, or behind MAILROOM_PROXY_COUNT
    reverse proxies, the entry of X-Forwarded-For the outermost of them wrote (entries left of
    it come from the client and can be anything)."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    if conf.PROXY_COUNT <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",")
        if part.strip()
    ]
    # Fewer entries than proxies: not from the proxies; the connection's address it is.
    return forwarded[-conf.PROXY_COUNT] if len(forwarded) >= conf.PROXY_COUNT else remote


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The login page with the lock-out message (429 Too Many Requests)."""
    form = SignInForm(request, initial={"username": attempted_username(request, credentials)})
    context = {
        "form": form,
        "locked_out": lockout_text(),
        "next": request.POST.get("next", "") or request.GET.get("next", ""),
    }
    return render(request, "mailroom/login.html", context, status=429)
