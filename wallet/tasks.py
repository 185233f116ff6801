"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from celery import shared_task


@shared_task
def send_low_balance_email(wallet_id: int) -> None:
    from wallet.notify import send_low_balance_email as send

    send(wallet_id)


@shared_task
def run_auto_topup(wallet_id: int) -> None:
    from wallet.autotopup import run_auto_topup as run

    run(wallet_id)
