"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from celery import shared_task

from wallet import reconcile


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
    from wallet.notify import send_low_balance_email as send

    send(wallet_id)


@shared_task
def run_auto_topup(wallet_id: int) -> bool:
    from wallet.autotopup import run_auto_topup as run

    return run(wallet_id)
