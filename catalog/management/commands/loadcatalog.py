from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import loader


class Command(BaseCommand):
    help = "Upsert the model catalog from a YAML file (default: the seed catalog). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(loader.DEFAULT_PATH))

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        try:
            result = loader.load(loader.read(path))
        except (OSError, loader.CatalogFileError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
