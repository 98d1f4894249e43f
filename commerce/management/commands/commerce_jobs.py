from django.core.management.base import BaseCommand

from commerce import tasks


class Command(BaseCommand):
    help = (
        "Run the periodic commerce jobs now: merge pending earnings' shards, mature "
        "earnings, renew or lapse memberships, void expired holds, purge old idempotency keys."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            choices=["merge", "mature", "renew", "expire", "purge"],
            help="Run just one job.",
        )

    def handle(self, *args, only=None, **options):
        jobs = {
            "merge": tasks.merge_earnings_shards,
            "mature": tasks.mature_earnings,
            "renew": tasks.renew_room_access,
            "expire": tasks.expire_pending_transfers,
            "purge": tasks.purge_idempotency_keys,
        }
        for name, job in jobs.items():
            if only in (None, name):
                self.stdout.write(f"{name}: {job()}")
