"""Email alerts over SMTP (smtplib)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from metricdag.settings import AlertingSettings


def send_email(settings: AlertingSettings, recipients: list[str], subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
        smtp.send_message(message)
