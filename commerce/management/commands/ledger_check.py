from django.core.management.base import BaseCommand, CommandError

from commerce.reconciliation import check_ledger


class Command(BaseCommand):
    help = "Verify every ledger invariant; exit non-zero naming each one that broke."

    def handle(self, *args, **options):
        problems = check_ledger()
        if problems:
            for problem in problems:
                self.stderr.write(f"BROKEN {problem}")
            raise CommandError(f"ledger_check: {len(problems)} invariant violation(s)")
        self.stdout.write(self.style.SUCCESS("ledger_check: all invariants hold"))
