"""Who may open the staff console: its sign-in, and the refusal to serve it open to the network."""

from __future__ import annotations

import ipaddress
import logging

from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)


class OpenConsoleRefused(BotError):
    """The console would be open to the network without a sign-in."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def staff_auth(settings: Settings) -> tuple[str, str] | None:
    """The console's sign-in (user, password), or None when it is open.

    Refuses an open console on an address other than loopback unless
    ``FAQBOT_ALLOW_OPEN_STAFF=1`` says something in front of the server signs staff in.
    """
    if settings.staff_password:
        return settings.staff_user, settings.staff_password
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
