"""Where a webhook may be sent: a public https URL. Loopback receivers (and plain http to
them) only when ``WEBHOOK_ALLOW_LOOPBACK`` is on (it follows ``DEBUG``). Checked when a
subscription is saved and again before every delivery (a name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class TargetRefused(Exception):
    """The URL may not receive webhooks; ``transient`` when it may work later (DNS);
    ``resolved`` when the refusal comes from what the host resolves to (or does not), not
    from the URL's shape: well formed, but not a receiver we may send to (the API's 409)."""

    def __init__(self, message: str, *, transient: bool = False, resolved: bool = False) -> None:
        super().__init__(message)
        self.message, self.transient, self.resolved = message, transient, resolved or transient


def target_check(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("Enter a full URL starting with https://.")
    if parts.username or parts.password:
        raise TargetRefused("Do not put credentials in the URL; verify our signature instead.")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except ValueError as exc:
        raise TargetRefused("The port of this URL is not valid.") from exc
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"The host {host} cannot be found (DNS).", transient=True) from exc
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    if all(address.is_loopback for address in addresses) and settings.WEBHOOK_ALLOW_LOOPBACK:
        return
    if parts.scheme != "https":
        raise TargetRefused("Use an https:// URL (plain http only to a local receiver in development).",
                            resolved=True)
    local = sorted(str(a) for a in addresses if not a.is_global)
    if local:
        raise TargetRefused(
            f"{host} points to a private or local address ({local[0]}); webhooks are sent to "
            "public receivers only.", resolved=True,
        )
