"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.dispatch import receiver

from wallet import reconcile
from wallet.autotopup import run_auto_topup as _run_auto_topup
from wallet.notify import send_low_balance_email as _send_low_balance_email
from wallet.signals import balance_crossed


@shared_task
def reconcile_holds() -> dict[str, int]:
    return reconcile.reconcile_holds()


@shared_task
def verify_ledgers() -> int:
    return len(reconcile.verify_ledgers())


@shared_task
def sync_stripe() -> int:
    return reconcile.sync_stripe()


@shared_task
def rollup_usage() -> int:
    return reconcile.rollup_usage()


@shared_task
def send_low_balance_email(wallet_id: int) -> None:
    _send_low_balance_email(wallet_id)


@shared_task
def run_auto_topup(wallet_id: int) -> bool:
    return _run_auto_topup(wallet_id)


@receiver(balance_crossed, dispatch_uid="wallet.tasks.enqueue_follow_ups")
def enqueue_follow_ups(sender: type, *, wallet_id: int, low_balance: bool, auto_topup: bool, **kwargs: Any) -> None:
    if low_balance:
        send_low_balance_email.delay(wallet_id)
    if auto_topup:
        run_auto_topup.delay(wallet_id)
