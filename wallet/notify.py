"""Emails about a wallet, sent to the org's owners and admins."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from accounts.models import Membership
from wallet.models import Wallet
from wallet.money import format_usd


def wallet_recipients(wallet: Wallet) -> list[str]:
    managers = Membership.objects.filter(
        org_id=wallet.org_id, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
    ).select_related("user")
    return sorted({m.user.email for m in managers})


def _send(wallet: Wallet, subject: str, body: str) -> None:
    recipients = wallet_recipients(wallet)
    if recipients:
        send_mail(f"[qlaud] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)


def send_low_balance_email(wallet_id: int) -> None:
    wallet = Wallet.objects.select_related("org").get(pk=wallet_id)
    _send(
        wallet,
        f"{wallet.org.name}: balance below {format_usd(wallet.low_balance_threshold)}",
        f"The balance of {wallet.org.name} is {format_usd(wallet.balance)}, below your alert threshold of "
        f"{format_usd(wallet.low_balance_threshold)}.\n\nRequests are refused once the balance cannot cover "
        f"them. Top up at {settings.SITE_URL}/dashboard/wallet/ (or turn on auto top-up there).\n",
    )


def send_auto_topup_failed_email(wallet_id: int, reason: str) -> None:
    wallet = Wallet.objects.select_related("org").get(pk=wallet_id)
    _send(
        wallet,
        f"{wallet.org.name}: auto top-up of {format_usd(wallet.auto_topup_amount)} failed",
        f"We tried to add {format_usd(wallet.auto_topup_amount)} to {wallet.org.name} with your saved card "
        f"because the balance ({format_usd(wallet.balance)}) fell below "
        f"{format_usd(wallet.auto_topup_threshold)}, but the payment failed:\n\n    {reason}\n\n"
        f"We will not retry until the balance rises above the threshold again. Top up or update your card at "
        f"{settings.SITE_URL}/dashboard/wallet/.\n",
    )
