from django.core.management.base import BaseCommand, CommandError

from apps.credits.selectors import ledger_problems


class Command(BaseCommand):
    help = (
        "Prove every account's balance equals the sum of its ledger entries and its held amount "
        "equals its active holds. Exits non-zero and names each account that does not."
    )

    def handle(self, *args, **options):
        problems = ledger_problems()
        for problem in problems:
            self.stderr.write(problem.describe())
        if problems:
            raise CommandError(f"{len(problems)} account(s) out of balance with the ledger.")
        self.stdout.write(self.style.SUCCESS("Ledger OK: every balance equals its entries."))
