"""Who may open the staff console: its sign-in, and the refusal to serve it open to the network."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable

from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)


MIN_PASSWORD = 12  # characters: a passphrase of three words passes, a dictionary word does not


class OpenConsoleRefused(BotError):
    """The console would be open to the network without a sign-in."""


class WeakStaffPassword(BotError):
    """``FAQBOT_STAFF_PASSWORD`` is too easy to guess."""


def check_staff_password(user: str, password: str) -> None:
    """Raise :class:`WeakStaffPassword`, saying what is accepted, for a password shorter than
    :data:`MIN_PASSWORD` characters, one that is the user name, or one character repeated."""
    accepted = (f"use at least {MIN_PASSWORD} characters that are not the user name, e.g. a few unrelated words "
                "(python -c 'import secrets; print(secrets.token_urlsafe(16))' makes one)")
    if len(password) < MIN_PASSWORD:
        raise WeakStaffPassword(f"FAQBOT_STAFF_PASSWORD is too short ({len(password)} characters): {accepted}")
    if user.casefold() in password.casefold() or len(set(password)) == 1:
        raise WeakStaffPassword(f"FAQBOT_STAFF_PASSWORD is too easy to guess (it holds the user name or repeats one character): {accepted}")


def password_check(user: str, password: str) -> Callable[[str, str], bool]:
    """Gradio's ``auth`` callable: the user name and password compared in constant time."""
    expected_user, expected_password = user.encode(), password.encode()

    def check(username: str, tried: str) -> bool:
        same_user = hmac.compare_digest(username.encode(), expected_user)
        same_password = hmac.compare_digest(tried.encode(), expected_password)
        return same_user & same_password

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def staff_auth(settings: Settings) -> Callable[[str, str], bool] | None:
    """The console's sign-in check (for Gradio's ``auth``), or None when it is open.

    Refuses a weak password (:func:`check_staff_password`), and an open console on an
    address other than loopback unless ``FAQBOT_ALLOW_OPEN_STAFF=1`` says something in
    front of the server signs staff in.
    """
    if settings.staff_password:
        check_staff_password(settings.staff_user, settings.staff_password)
        return password_check(settings.staff_user, settings.staff_password)
    if is_loopback(settings.host):
        return None
    if settings.allow_open_staff:
        logger.warning("the staff console at / is open to anyone who can reach %s (FAQBOT_ALLOW_OPEN_STAFF=1)", settings.host)
        return None
    raise OpenConsoleRefused(
        f"refusing to serve the staff console on {settings.host} without a sign-in: set FAQBOT_STAFF_PASSWORD "
        "(and optionally FAQBOT_STAFF_USER, default 'staff'), or set FAQBOT_ALLOW_OPEN_STAFF=1 if a proxy in "
        "front of this server already signs staff in"
    )
