from typing import Any

from django.core.management.base import BaseCommand, CommandError

from archive.models import Entry, StoredFile
from archive.selectors import archive_verify


class Command(BaseCommand):
    help = "Read back every archived file and recompute the archive's chain; name what fails."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = archive_verify()
        for problem in problems:
            self.stdout.write(self.style.ERROR(f"{problem.path}: {problem.reason}"))
        if problems:
            raise CommandError(f"{len(problems)} problems in the archive.")
        self.stdout.write(
            self.style.SUCCESS(
                f"The archive holds: {StoredFile.objects.count()} files, "
                f"{Entry.objects.count()} chain entries."
            )
        )
