from django.core.management.base import BaseCommand, CommandError

from apps.credits.selectors import ledger_problems, spend_cap_problems
from apps.usage.selectors import usage_charge_problems


class Command(BaseCommand):
    help = (
        "Prove every account's balance equals the sum of its ledger entries and its held amount "
        "equals its active holds (and every spend cap's), every delivered request has its charge, "
        "every key's spend equals its requests' cost and what it holds its active holds. Exits "
        "non-zero and names what does not."
    )

    def handle(self, *args, **options):
        problems = [problem.describe() for problem in ledger_problems()]
        problems += spend_cap_problems()
        problems += usage_charge_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s) with the ledger and the charges.")
        self.stdout.write(
            self.style.SUCCESS(
                "Ledger OK: every balance equals its entries, every delivered request has its "
                "charge, every key's spend its requests' cost."
            )
        )
