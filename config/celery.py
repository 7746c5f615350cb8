import os
from pathlib import Path

from celery import Celery
from celery.signals import beat_init

from core.redaction import install_log_redaction

# every log record of a worker is redacted, whatever handlers Celery installs (the core app
# does it too once Django is set up; this covers what a worker logs before that)
install_log_redaction()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("dropdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The embedded filesystem broker needs its folders before the first message."""
    # Django's settings, not sender.conf: reading the conf while it is being configured
    # recursed (RecursionError logged by every process that configured the app).
    from django.conf import settings

    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@beat_init.connect(dispatch_uid="dropdesk-install-schedules")
def _install_schedules(sender: object = None, **kwargs: object) -> None:
    """The beat process installs the periodic tasks declared in code (orders/schedules.py)
    before its first tick: no manual `setup_schedules` step in a deployment."""
    import logging

    from orders.schedules import schedules_install

    counts = schedules_install()
    logging.getLogger("dropdesk.schedules").info("periodic tasks installed at beat start: %s",
                                                 counts)
