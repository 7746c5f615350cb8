from __future__ import annotations

import pytest

from webhooks import signing
from webhooks.targets import TargetRefused, target_check


def test_signature_verifies_with_the_secret_and_refuses_tampering_and_replays():
    body = b'{"id":"e1"}'
    header = signing.signature_header("whsec_a", body, timestamp=1_000)
    assert signing.signature_verify("whsec_a", header, body, now=1_010)
    assert not signing.signature_verify("whsec_b", header, body, now=1_010)
    assert not signing.signature_verify("whsec_a", header, body + b" ", now=1_010)
    assert not signing.signature_verify("whsec_a", header, body, now=1_000 + 301)
    assert not signing.signature_verify("whsec_a", "garbage", body, now=1_010)


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://hooks.example.com/x", "https://"),
    ("http://hooks.example.com/x", "https://"),
    ("https://user:pw@hooks.example.com/x", "credentials"),
    ("https://nowhere.invalid/x", "cannot be found"),
    ("https://127.0.0.1:9/x", "private or local"),
    ("https://10.1.2.3/x", "private or local"),
    ("https://[::1]/x", "private or local"),
])
def test_a_receiver_must_be_a_public_https_url(url, message):
    with pytest.raises(TargetRefused, match=message):
        target_check(url)


def test_loopback_receivers_are_allowed_only_when_the_setting_says_so(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    target_check("http://127.0.0.1:9/x")
    with pytest.raises(TargetRefused):
        target_check("http://10.1.2.3/x")
    target_check("https://hooks.example.com/x")
