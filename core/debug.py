"""Django's error reports (the DEBUG page, the 500 e-mails) without secrets.

``SafeExceptionReporterFilter`` already hides settings whose names look secret; it does not
hide local variables (the keys inside ``merchants.crypto``, an account's decrypted
credentials, a client's token), nor secrets inside exception texts and URLs. This filter hides
locals by name and by value, and the reporter passes its whole output through
``core.redaction.redact_text`` as a last net.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from .redaction import redact_data, redact_text

_SECRET_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|FERNET", flags=re.I
)


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = _SECRET_NAMES

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if _SECRET_NAMES.search(str(name)):
                value = self.cleansed_substitute
            cleansed.append((name, value))
        return cleansed

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        return {k: redact_data(v) if isinstance(v, str) else v for k, v in meta.items()}


class SecretsExceptionReporter(ExceptionReporter):
    """Django's reporter, its rendered page and text redacted."""

    def get_traceback_html(self) -> SafeString:
        # redaction only replaces text with "***": the page stays as safe as Django made it
        return mark_safe(redact_text(str(super().get_traceback_html())))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact_text(str(super().get_traceback_text())))  # noqa: S308
